'use strict';
// load.test.js - rcached under load from redis-benchmark (Debian
// redis-tools): SET/GET with and without pipelining, 200 concurrent
// connections, and a raw 10k-command pipeline sent in one write. Checks
// correctness (no errors, every reply) rather than speed; the speed
// comparison with redis-server is a separate benchmark (docs/SERVER.md).
// Counts, not rates: every request redis-benchmark sends must show up in
// the server's command counters, however slow the machine is.
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const Redis = require('ioredis');
const { PATIENCE_MS, startServer, run } = require('./helpers');

let srv;

test.before(async () => {
  srv = await startServer(['--threads', '2']);
});

test.after(async () => {
  if (srv) await srv.stop();
});

function parseCsv(out) {
  const res = {};
  for (const line of out.trim().split('\n')) {
    const m = line.match(/^"([^"]+)","([\d.]+)"/);
    if (m) res[m[1]] = Number(m[2]);
  }
  return res;
}

// Calls of each command so far, from INFO commandstats.
async function calls() {
  const r = new Redis({ port: srv.port, host: '127.0.0.1' });
  try {
    const out = {};
    for (const m of (await r.info('commandstats')).matchAll(/^cmdstat_(\w+):calls=(\d+),/gm)) {
      out[m[1]] = Number(m[2]);
    }
    return out;
  } finally {
    r.disconnect();
  }
}

// Run redis-benchmark; returns its CSV (test -> requests/s, reported only)
// and how many calls of each command the server counted meanwhile.
async function bench(args) {
  const before = await calls();
  const r = await run('redis-benchmark', ['-h', '127.0.0.1', '-p', String(srv.port), '--csv', ...args],
    { timeout: 300000 });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const after = await calls();
  const delta = {};
  for (const k of Object.keys(after)) delta[k] = after[k] - (before[k] || 0);
  return { res: parseCsv(r.stdout), delta };
}

test('redis-benchmark SET/GET -P 1 and -P 16', async () => {
  for (const p of ['1', '16']) {
    const { res, delta } = await bench(['-t', 'set,get', '-n', '50000', '-r', '10000', '-d', '100', '-c', '50', '-P', p]);
    assert.ok(res.SET > 0 && res.GET > 0, `SET/GET -P ${p} ran: ${JSON.stringify(res)}`);
    // every request was served (redis-benchmark may add a CONFIG GET)
    assert.equal(delta.set, 50000, `SET -P ${p}: ${JSON.stringify(delta)}`);
    assert.equal(delta.get, 50000, `GET -P ${p}: ${JSON.stringify(delta)}`);
  }
  const r = new Redis({ port: srv.port, host: '127.0.0.1' });
  const v = await r.get('key:000000000042');
  assert.ok(v === null || v.length === 100);
  assert.ok((await r.dbsize()) > 1000);
  r.disconnect();
});

test('redis-benchmark with 200 concurrent connections, other commands', async () => {
  const { res, delta } = await bench(['-t', 'ping,set,get,incr,mset', '-n', '20000', '-c', '200', '-r', '1000']);
  for (const k of ['PING_INLINE', 'PING_MBULK', 'SET', 'GET', 'INCR']) {
    assert.ok(res[k] > 0, `${k}: ${JSON.stringify(res)}`);
  }
  assert.ok(Object.keys(res).some((k) => k.startsWith('MSET')));
  // PING_INLINE + PING_MBULK, then one of each other command per request
  assert.equal(delta.ping, 40000, JSON.stringify(delta));
  for (const k of ['set', 'get', 'incr', 'mset']) assert.equal(delta[k], 20000, `${k}: ${JSON.stringify(delta)}`);
});

test('10k commands in one write come back in order', async () => {
  const n = 10000;
  let req = '';
  for (let i = 0; i < n; i++) {
    const k = `pl:${i}`;
    req += `*3\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$${String(i).length}\r\n${i}\r\n`;
  }
  for (let i = 0; i < n; i++) {
    const k = `pl:${i}`;
    req += `*2\r\n$3\r\nGET\r\n$${k.length}\r\n${k}\r\n`;
  }
  let expected = '+OK\r\n'.repeat(n);
  for (let i = 0; i < n; i++) expected += `$${String(i).length}\r\n${i}\r\n`;
  const out = await new Promise((resolve, reject) => {
    const s = net.connect(srv.port, '127.0.0.1');
    let buf = '';
    const t = setTimeout(() => { s.destroy(); reject(new Error(`timeout, got ${buf.length} of ${expected.length}`)); }, 2 * PATIENCE_MS);
    s.on('connect', () => s.write(req));
    s.on('data', (d) => {
      buf += d;
      if (buf.length >= expected.length) { clearTimeout(t); s.destroy(); resolve(buf); }
    });
    s.on('error', reject);
  });
  assert.equal(out.length, expected.length);
  assert.ok(out === expected, 'replies match, in order');
});
