'use strict';
// config_owner.test.js - one owner for rcached's live settings: the admin
// API (POST /api/cache/config) and CONFIG SET both change the same
// configuration, so CONFIG GET shows what the admin API set, a later
// CONFIG SET of anything else leaves the admin's limits alone, and the
// admin API shows what CONFIG SET set. Plus the main thread's reads of the
// settings (keepalive on accept, unix socket path at shutdown) while
// workers run CONFIG SET: under `make test-tsan` a data race there stops
// the server (halt_on_error) and the test fails.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const Redis = require('ioredis');
const { startServer, freePort, raw, tmpdir } = require('./helpers');

const TOKEN = 'config-owner-test-token';
// Generous: other jobs may hold both cores (no timing is asserted).
const HTTP_DEADLINE_MS = 60000;

async function startWithAdmin(args = []) {
  const adminPort = await freePort();
  const srv = await startServer(['--admin-port', String(adminPort), '--admin-token', TOKEN,
    '--threads', '2', ...args]);
  srv.adminPort = adminPort;
  return srv;
}

async function admin(srv, method, p, body) {
  const res = await fetch(`http://127.0.0.1:${srv.adminPort}${p}`, {
    method,
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(HTTP_DEADLINE_MS),
  });
  const json = await res.json();
  assert.equal(res.status, 200, `${method} ${p}: ${JSON.stringify(json)}`);
  return json;
}

async function configGet(r, name) {
  const [k, v] = await r.config('GET', name);
  assert.equal(k, name);
  return v;
}

test('admin POST /api/cache/config: CONFIG GET shows the new values', async () => {
  const srv = await startWithAdmin(['--max-items', '1000', '--maxmemory', '64mb']);
  const r = new Redis({ port: srv.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await r.connect();
    const out = await admin(srv, 'POST', '/api/cache/config',
      { max_size: 77, max_memory_mb: 3, default_ttl_seconds: 12 });
    assert.equal(out.config.max_size, 77);
    assert.equal(await configGet(r, 'max-items'), '77');
    assert.equal(await configGet(r, 'maxmemory'), String(3 * 1048576));
    assert.equal(await configGet(r, 'default-ttl'), '12000');
    // null / 0 mean unbounded / no expiry on both sides.
    await admin(srv, 'POST', '/api/cache/config', { max_size: null, default_ttl_seconds: 0 });
    assert.equal(await configGet(r, 'max-items'), '0');
    assert.equal(await configGet(r, 'default-ttl'), '0');
    assert.equal(await configGet(r, 'maxmemory'), String(3 * 1048576), 'untouched field kept');
  } finally {
    r.disconnect();
    await srv.stop();
  }
});

test('CONFIG SET loglevel after an admin change leaves the admin limits in place', async () => {
  // Start-up limit 10 items; the admin raises it to 100 and 50 keys go in.
  // A CONFIG SET of an unrelated option must not write the start-up limit
  // back (which would evict 40 keys).
  const srv = await startWithAdmin(['--max-items', '10']);
  const r = new Redis({ port: srv.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await r.connect();
    await admin(srv, 'POST', '/api/cache/config', { max_size: 100, default_ttl_seconds: 3600 });
    const p = r.pipeline();
    for (let i = 0; i < 50; i++) p.set(`k${i}`, `v${i}`);
    await p.exec();
    assert.equal(await r.dbsize(), 50);
    assert.equal(await r.config('SET', 'loglevel', 'verbose'), 'OK');
    assert.equal(await r.config('SET', 'timeout', '0', 'loglevel', 'notice'), 'OK');
    assert.equal(await r.dbsize(), 50, 'CONFIG SET loglevel evicted keys');
    const cfg = (await admin(srv, 'GET', '/api/cache/config')).config;
    assert.equal(cfg.max_size, 100);
    assert.equal(cfg.default_ttl_seconds, 3600);
    assert.equal(await configGet(r, 'max-items'), '100');
    const stats = (await admin(srv, 'GET', '/api/cache/stats')).stats;
    assert.equal(stats.evictions, 0);
  } finally {
    r.disconnect();
    await srv.stop();
  }
});

test('CONFIG SET maxmemory / max-items / default-ttl: the admin API shows them', async () => {
  const srv = await startWithAdmin(['--max-items', '1000', '--maxmemory', '64mb']);
  const r = new Redis({ port: srv.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await r.connect();
    assert.equal(await r.config('SET', 'maxmemory', '5mb', 'max-items', '321',
      'default-ttl', '7000'), 'OK');
    const cfg = (await admin(srv, 'GET', '/api/cache/config')).config;
    assert.equal(cfg.max_memory_bytes, 5 * 1048576);
    assert.equal(cfg.max_size, 321);
    assert.equal(cfg.default_ttl_seconds, 7);
    // And back through the admin API: one owner, last writer wins.
    await admin(srv, 'POST', '/api/cache/config', { max_memory_mb: 6 });
    assert.equal(await configGet(r, 'maxmemory'), String(6 * 1048576));
    assert.equal(await configGet(r, 'max-items'), '321');
  } finally {
    r.disconnect();
    await srv.stop();
  }
});

test('admin and CONFIG SET changes interleaved: both views agree at the end', async () => {
  const srv = await startWithAdmin(['--max-items', '0']);
  const clients = [0, 1].map(() =>
    new Redis({ port: srv.port, lazyConnect: true, maxRetriesPerRequest: 0 }));
  try {
    await Promise.all(clients.map((c) => c.connect()));
    const work = [];
    for (let i = 1; i <= 40; i++) {
      work.push(clients[i % 2].config('SET', 'max-items', String(1000 + i), 'loglevel', 'notice'));
      work.push(admin(srv, 'POST', '/api/cache/config', { max_size: 2000 + i }));
    }
    await Promise.all(work);
    // One last change from each side, in a known order.
    await admin(srv, 'POST', '/api/cache/config', { max_size: 4242 });
    assert.equal(await configGet(clients[0], 'max-items'), '4242');
    await clients[1].config('SET', 'max-items', '4343');
    assert.equal((await admin(srv, 'GET', '/api/cache/config')).config.max_size, 4343);
    assert.equal((await admin(srv, 'GET', '/api/cache/stats')).stats.max_items, 4343);
  } finally {
    clients.forEach((c) => c.disconnect());
    await srv.stop();
  }
});

test('CONFIG SET of string options while connections are accepted (race-free under TSan)', async () => {
  const dir = tmpdir('rcached-owner-');
  const sock = path.join(dir, 'r.sock');
  const srv = await startWithAdmin(['--unixsocket', sock, '--tcp-keepalive', '60']);
  const setter = new Redis({ port: srv.port, lazyConnect: true, maxRetriesPerRequest: 0 });
  try {
    await setter.connect();
    let stop = false;
    // Worker side: replace the settings (and their strings) over and over.
    const loop = (async () => {
      let n = 0;
      while (!stop) {
        const p = setter.pipeline();
        for (let i = 0; i < 50; i++) {
          p.config('SET', 'requirepass', '');
          p.config('SET', 'loglevel', i % 2 ? 'notice' : 'verbose');
        }
        const res = await p.exec();
        for (const [err] of res) if (err) return err;
        n += res.length;
      }
      return n;
    })().catch((e) => e);
    // A server stopped by a sanitizer report: show the report.
    const alive = async (what, ok) => {
      if (ok && !srv.exitInfo()) return;
      let timer;
      await Promise.race([srv.exited, new Promise((r) => { timer = setTimeout(r, 10000); })]);
      clearTimeout(timer);
      assert.fail(`rcached ${srv.exitInfo() ? 'died' : 'failed'} during ${what}:\n` +
        srv.log().slice(-6000));
    };
    // Main-thread side: accept TCP connections (keepalive read on accept)
    // and unix ones, a few at a time.
    for (let round = 0; round < 40; round++) {
      const batch = [];
      for (let i = 0; i < 5; i++) {
        batch.push(raw(srv.port, 'PING\r\n', { timeout: 60000, until: (o) => o.includes('\r\n') }));
      }
      batch.push(raw(0, 'PING\r\n', { timeout: 60000, until: (o) => o.includes('\r\n'), path: sock }));
      const replies = await Promise.all(batch);
      await alive('accepts', replies.every((r) => r.out.startsWith('+PONG')));
    }
    stop = true;
    const n = await loop;
    await alive(`CONFIG SET (${n})`, typeof n === 'number' && n > 0);
    // Shutdown reads the unix socket path on the main thread; one more
    // pipelined CONFIG SET burst is in flight while SIGTERM arrives.
    const p = setter.pipeline();
    for (let i = 0; i < 200; i++) p.config('SET', 'requirepass', '');
    const burst = p.exec().catch(() => null);
    await srv.stop();
    await burst;
    assert.doesNotMatch(srv.log(), /ThreadSanitizer|AddressSanitizer/);
  } finally {
    setter.disconnect();
    await srv.stop().catch(() => {});
  }
});
