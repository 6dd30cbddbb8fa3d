'use strict';
// hostile.test.js - clients that misbehave: a 2 GB bulk header, protocol
// garbage, a slowloris, a client that never reads its replies, 10k
// connections opened and dropped, maxclients, the query-buffer limit and
// the idle timeout. After each, the server must still serve others and
// its memory must stay bounded.
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const Redis = require('ioredis');
const { startServer, raw, ping, sleep } = require('./helpers');

test('2 GB bulk header gets a protocol error, server stays up', async () => {
  const srv = await startServer(['--threads', '2']);
  try {
    const r = await raw(srv.port, '*1\r\n$2000000000\r\n', { timeout: 3000 });
    assert.equal(r.out, '-ERR Protocol error: invalid bulk length\r\n');
    assert.ok(r.closed, 'connection closed after the protocol error');
    const r2 = await raw(srv.port, '*abc\r\n', { timeout: 3000 });
    assert.equal(r2.out, '-ERR Protocol error: invalid multibulk length\r\n');
    const r3 = await raw(srv.port, '*1\r\n$x\r\n', { timeout: 3000 });
    assert.match(r3.out, /^-ERR Protocol error: expected '\$', got 'x'|^-ERR Protocol error/);
    // inline commands, as typed in telnet
    const r4 = await raw(srv.port, 'SET greeting "hello world"\r\nGET greeting\r\n',
      { until: (o) => o.split('\r\n').length >= 4 });
    assert.equal(r4.out, '+OK\r\n$11\r\nhello world\r\n');
    assert.ok(await ping(srv.port));
    assert.ok(srv.rss() < 200 * 1024 * 1024, `rss ${srv.rss()}`);
  } finally {
    await srv.stop();
  }
});

test('slowloris (1 byte/s) does not block other clients', async () => {
  const srv = await startServer(['--threads', '1']);
  try {
    const slow = net.connect(srv.port, '127.0.0.1');
    await new Promise((r) => slow.on('connect', r));
    let slowOut = '';
    slow.on('data', (d) => { slowOut += d; });
    const msg = '*1\r\n$4\r\nPING\r\n';
    const r = new Redis({ port: srv.port, host: '127.0.0.1' });
    let served = 0;
    let worst = 0;
    for (let i = 0; i < 4; i++) {
      slow.write(msg[i]);
      const until = Date.now() + 1000;
      while (Date.now() < until) {
        const t0 = Date.now();
        assert.equal(await r.set(`k${served}`, 'v'), 'OK');
        worst = Math.max(worst, Date.now() - t0);
        served++;
        await sleep(20);
      }
    }
    slow.write(msg.slice(4));
    await sleep(100);
    assert.equal(slowOut, '+PONG\r\n');
    assert.ok(served > 50, `served ${served}`);
    assert.ok(worst < 500, `worst latency ${worst} ms`);
    slow.destroy();
    r.disconnect();
  } finally {
    await srv.stop();
  }
});

test('a client that never reads is disconnected at the output limit; memory bounded', async () => {
  const srv = await startServer(['--threads', '2', '--client-output-buffer-limit', '8mb']);
  try {
    const r = new Redis({ port: srv.port, host: '127.0.0.1' });
    await r.set('big', Buffer.alloc(1 << 20, 0x61));
    const rss0 = srv.rss();
    const sock = net.connect(srv.port, '127.0.0.1');
    await new Promise((res) => sock.on('connect', res));
    sock.pause(); // never read
    let closed = false;
    sock.on('close', () => { closed = true; });
    sock.on('error', () => { closed = true; });
    const batch = 'GET big\r\n'.repeat(200);
    const deadline = Date.now() + 15000;
    while (!closed && Date.now() < deadline) {
      if (sock.writableLength < (1 << 20)) sock.write(batch);
      await sleep(5);
    }
    assert.ok(closed, 'server closed the non-reading client');
    const rss1 = srv.rss();
    assert.ok(rss1 - rss0 < 64 * 1024 * 1024, `rss grew ${rss1 - rss0}`);
    assert.equal(await r.ping(), 'PONG');
    assert.equal((await r.getBuffer('big')).length, 1 << 20);
    r.disconnect();
    for (let i = 0; i < 50 && !/output buffer limits/.test(srv.log()); i++) await sleep(20);
    assert.match(srv.log(), /output buffer limits/);
  } finally {
    await srv.stop();
  }
});

test('10k connections opened and dropped', async () => {
  const srv = await startServer(['--threads', '2']);
  try {
    const rss0 = srv.rss();
    const total = 10000;
    const conc = 250;
    let done = 0;
    let next = 0;
    const one = (i) => new Promise((resolve) => {
      const s = net.connect(srv.port, '127.0.0.1');
      s.on('connect', () => {
        if (i % 2) s.write('PING\r\n');
        if (i % 3 === 0) s.destroy(); else s.end();
      });
      s.on('data', () => {});
      s.on('close', () => { done++; resolve(); });
      s.on('error', () => {});
    });
    const workers = Array.from({ length: conc }, async () => {
      while (next < total) await one(next++);
    });
    await Promise.all(workers);
    assert.equal(done, total);
    assert.ok(await ping(srv.port));
    const r = new Redis({ port: srv.port, host: '127.0.0.1' });
    let clients = 0;
    for (let i = 0; i < 50; i++) {
      clients = Number((await r.info('clients')).match(/connected_clients:(\d+)/)[1]);
      if (clients === 1) break;
      await sleep(50);
    }
    assert.equal(clients, 1);
    const stats = await r.info('stats');
    assert.ok(Number(stats.match(/total_connections_received:(\d+)/)[1]) >= total);
    r.disconnect();
    assert.ok(srv.rss() - rss0 < 64 * 1024 * 1024, `rss grew ${srv.rss() - rss0}`);
  } finally {
    await srv.stop();
  }
});

test('maxclients refuses politely', async () => {
  const srv = await startServer(['--maxclients', '3']);
  try {
    // Fill the 3 slots with clients known to be admitted (PING answered):
    // the readiness probe of startServer may still hold a slot for a moment
    // (its close is noticed by a worker asynchronously), in which case the
    // server rightly refuses a client; retry that one.
    const admitted = () => new Promise((resolve) => {
      const s = net.connect(srv.port, '127.0.0.1');
      s.once('data', (d) => resolve({ s, ok: d.toString() === '+PONG\r\n' }));
      s.on('error', () => resolve({ s, ok: false }));
      s.on('connect', () => s.write('PING\r\n'));
    });
    const socks = [];
    for (let i = 0; i < 3; i++) {
      for (let attempt = 0; ; attempt++) {
        const { s, ok } = await admitted();
        if (ok) { socks.push(s); break; }
        s.destroy();
        assert.ok(attempt < 50, 'could not fill the client slots');
        await sleep(50);
      }
    }
    const r = await raw(srv.port, 'PING\r\n', { timeout: 2000 });
    assert.equal(r.out, '-ERR max number of clients reached\r\n');
    socks.forEach((s) => s.destroy());
    await sleep(200);
    assert.ok(await ping(srv.port));
  } finally {
    await srv.stop();
  }
});

test('query buffer limit closes the client', async () => {
  const srv = await startServer(['--client-query-buffer-limit', '1mb']);
  try {
    // a bulk announced above the limit is refused at once
    const r1 = await raw(srv.port, '*2\r\n$3\r\nGET\r\n$5000000\r\n', { timeout: 2000 });
    assert.equal(r1.out, '-ERR Protocol error: invalid bulk length\r\n');
    // many bulks under the limit that add up above it
    const part = 'x'.repeat(600000);
    const r2 = await raw(srv.port,
      `*4\r\n$3\r\nSET\r\n$600000\r\n${part}\r\n$600000\r\n${part}\r\n$10\r\n`, { timeout: 3000 });
    assert.ok(r2.closed);
    for (let i = 0; i < 50 && !/max query buffer length/.test(srv.log()); i++) await sleep(20);
    assert.match(srv.log(), /max query buffer length/);
    // a big inline line without newline
    const r3 = await raw(srv.port, 'GET ' + 'a'.repeat(100000), { timeout: 2000 });
    assert.match(r3.out, /^-ERR Protocol error: too big inline request/);
    assert.ok(await ping(srv.port));
  } finally {
    await srv.stop();
  }
});

test('idle timeout closes idle clients only', async () => {
  const srv = await startServer(['--timeout', '1']);
  try {
    const idle = net.connect(srv.port, '127.0.0.1');
    let closed = false;
    idle.on('close', () => { closed = true; });
    idle.on('error', () => {});
    const busy = new Redis({ port: srv.port, host: '127.0.0.1', maxRetriesPerRequest: 0,
      retryStrategy: () => null });
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      assert.equal(await busy.ping(), 'PONG');
      await sleep(200);
    }
    assert.ok(closed, 'idle client closed');
    assert.equal(busy.status, 'ready');
    busy.disconnect();
  } finally {
    await srv.stop();
  }
});

test('SIGTERM with a busy client: replies flushed, exit 0', async () => {
  const srv = await startServer(['--threads', '2']);
  const r = new Redis({ port: srv.port, host: '127.0.0.1', retryStrategy: () => null,
    maxRetriesPerRequest: 0 });
  await r.set('v', Buffer.alloc(4 << 20, 0x62));
  const pending = r.getBuffer('v');
  await sleep(5);
  const res = await srv.stop();
  assert.equal(res.code, 0);
  const got = await pending.catch((e) => e);
  assert.ok(Buffer.isBuffer(got) ? got.length === 4 << 20 : true);
  assert.match(srv.log(), /Received SIGTERM/);
  assert.match(srv.log(), /bye bye/);
  r.disconnect();
});
