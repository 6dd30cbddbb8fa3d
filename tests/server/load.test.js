'use strict';
// load.test.js - rcached under load from redis-benchmark (Debian
// redis-tools): SET/GET with and without pipelining, 200 concurrent
// connections, and a raw 10k-command pipeline sent in one write. Checks
// correctness (no errors, every reply) rather than speed; the speed
// comparison with redis-server is a separate benchmark (docs/SERVER.md).
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const Redis = require('ioredis');
const { startServer, run } = require('./helpers');

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

async function bench(args) {
  const r = await run('redis-benchmark', ['-h', '127.0.0.1', '-p', String(srv.port), '--csv', ...args],
    { timeout: 120000 });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  return parseCsv(r.stdout);
}

test('redis-benchmark SET/GET -P 1 and -P 16', async () => {
  for (const p of ['1', '16']) {
    const res = await bench(['-t', 'set,get', '-n', '50000', '-r', '10000', '-d', '100', '-c', '50', '-P', p]);
    assert.ok(res.SET > 1000, `SET -P ${p}: ${JSON.stringify(res)}`);
    assert.ok(res.GET > 1000, `GET -P ${p}: ${JSON.stringify(res)}`);
  }
  const r = new Redis({ port: srv.port, host: '127.0.0.1' });
  const v = await r.get('key:000000000042');
  assert.ok(v === null || v.length === 100);
  assert.ok((await r.dbsize()) > 1000);
  r.disconnect();
});

test('redis-benchmark with 200 concurrent connections, other commands', async () => {
  const res = await bench(['-t', 'ping,set,get,incr,mset', '-n', '20000', '-c', '200', '-r', '1000']);
  for (const k of ['PING_INLINE', 'PING_MBULK', 'SET', 'GET', 'INCR']) {
    assert.ok(res[k] > 500, `${k}: ${JSON.stringify(res)}`);
  }
  assert.ok(Object.keys(res).some((k) => k.startsWith('MSET')));
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
    const t = setTimeout(() => { s.destroy(); reject(new Error(`timeout, got ${buf.length} of ${expected.length}`)); }, 20000);
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
