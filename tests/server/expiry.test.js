'use strict';
// expiry.test.js - absolute expiry times through rcached (issue 10 items 1,
// 3, 12, 17): EXAT/PXAT/PEXPIREAT are applied by the library under the
// key's lock, kept on the cache's monotonic clock and converted back to
// wall time exactly; huge times saturate instead of overflowing. No
// assertion depends on how long anything takes.
const test = require('node:test');
const assert = require('node:assert/strict');
const Redis = require('ioredis');
const { startServer } = require('./helpers');

let srv;
let r;

test.before(async () => {
  srv = await startServer(['--threads', '2']);
  // integers as strings: replies near INT64_MAX lose precision as numbers
  r = new Redis({ port: srv.port, host: '127.0.0.1', maxRetriesPerRequest: 1,
                  stringNumbers: true });
  await r.ping();
});

test.after(async () => {
  if (r) r.disconnect();
  if (srv) await srv.stop();
});

test.beforeEach(async () => {
  await r.flushall();
});

// A future PXAT lands exactly on the time given: it used to be turned into
// a relative TTL with one clock reading and back with another (and
// PEXPIRETIME added a third), so the reply drifted by a millisecond
// whenever a reading crossed a millisecond boundary.
test('PXAT / PEXPIREAT / GETEX PXAT round-trip through PEXPIRETIME exactly', async () => {
  const base = Date.now() + 1000000;
  for (let i = 0; i < 300; i++) {
    const at = String(base + i * 7);
    const p = r.pipeline();
    p.set('k', 'v', 'PXAT', at);
    p.call('PEXPIRETIME', 'k');
    p.call('PEXPIREAT', 'k', String(base + i * 7 + 1));
    p.call('PEXPIRETIME', 'k');
    p.getex('k', 'PXAT', String(base + i * 7 + 2));
    p.call('PEXPIRETIME', 'k');
    const res = await p.exec();
    assert.deepEqual(res.map((x) => x[1]),
                     ['OK', at, '1', String(base + i * 7 + 1), 'v', String(base + i * 7 + 2)]);
  }
});

// SET ... PXAT <past> removes the key in the same step (GET returns the
// old value); it used to store and then expire in a second call.
test('SET PXAT in the past replaces the key by nothing, in one step', async () => {
  assert.equal(await r.set('k', 'v1'), 'OK');
  assert.equal(await r.set('k', 'v2', 'PXAT', String(Date.now() - 1000), 'GET'), 'v1');
  assert.equal(await r.get('k'), null);
  assert.equal(await r.exists('k'), '0');
  assert.equal(await r.set('k', 'v3', 'EXAT', '1'), 'OK');
  assert.equal(await r.get('k'), null);
  // NX on a present key: refused before the expiry is looked at
  assert.equal(await r.set('k', 'v4'), 'OK');
  assert.equal(await r.set('k', 'v5', 'NX', 'PXAT', '1'), null);
  assert.equal(await r.get('k'), 'v4');
});

// The largest absolute time saturates: replies stay positive, never an
// overflowed (negative) number.
test('huge absolute expiry: TTL, PTTL, EXPIRETIME and PEXPIRETIME stay positive', async () => {
  const max = '9223372036854775807';
  assert.equal(await r.set('k', 'v'), 'OK');
  assert.equal(await r.call('PEXPIREAT', 'k', max), '1');
  assert.equal(await r.call('PEXPIRETIME', 'k'), max);
  assert.equal(await r.call('EXPIRETIME', 'k'), '9223372036854776');
  assert.ok(BigInt(await r.pttl('k')) > 9223300000000000000n);
  assert.ok(BigInt(await r.ttl('k')) > 9223300000000000n);
  assert.equal(await r.set('k', 'v', 'PXAT', max), 'OK');
  assert.equal(await r.call('PEXPIRETIME', 'k'), max);
  await assert.rejects(r.call('PEXPIRE', 'k', max), /invalid expire time/);
});
