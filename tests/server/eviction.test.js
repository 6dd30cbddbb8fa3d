'use strict';
// eviction.test.js - the cache limits seen through the server: LRU
// eviction under --max-items and under --maxmemory, shrinking limits with
// CONFIG SET, oversize values, and the INFO counters that report it.
const test = require('node:test');
const assert = require('node:assert/strict');
const Redis = require('ioredis');
const { startServer } = require('./helpers');

const field = (info, name) => Number(info.match(new RegExp(`${name}:(\\d+)`))[1]);

test('--max-items evicts least recently used keys', async () => {
  const srv = await startServer(['--max-items', '100', '--shards', '1']);
  const r = new Redis({ port: srv.port, host: '127.0.0.1' });
  try {
    for (let i = 0; i < 100; i++) await r.set(`k${i}`, `v${i}`);
    assert.equal(await r.get('k0'), 'v0'); // k0 becomes most recently used
    const p = r.pipeline();
    for (let i = 100; i < 300; i++) p.set(`k${i}`, `v${i}`);
    await p.exec();
    assert.equal(await r.dbsize(), 100);
    assert.equal(await r.get('k299'), 'v299');
    assert.equal(await r.get('k1'), null);
    const stats = await r.info('stats');
    assert.equal(field(stats, 'evicted_keys'), 200);
    assert.deepEqual(await r.config('GET', 'max-items'), ['max-items', '100']);
    // shrinking at run time evicts at once
    assert.equal(await r.config('SET', 'max-items', '10'), 'OK');
    assert.equal(await r.dbsize(), 10);
    assert.equal(await r.get('k299'), 'v299');
  } finally {
    r.disconnect();
    await srv.stop();
  }
});

test('--maxmemory bounds used_memory', async () => {
  const srv = await startServer(['--maxmemory', '1mb']);
  const r = new Redis({ port: srv.port, host: '127.0.0.1' });
  try {
    const mem0 = await r.info('memory');
    assert.equal(field(mem0, 'maxmemory'), 1 << 20);
    const val = 'x'.repeat(1000);
    const p = r.pipeline();
    for (let i = 0; i < 3000; i++) p.set(`m${i}`, val);
    const res = await p.exec();
    assert.ok(res.every(([err, v]) => !err && v === 'OK'));
    const mem = await r.info('memory');
    assert.ok(field(mem, 'used_memory') <= 1 << 20, `used_memory ${field(mem, 'used_memory')}`);
    const stats = await r.info('stats');
    assert.ok(field(stats, 'evicted_keys') > 1500, `evicted ${field(stats, 'evicted_keys')}`);
    const n = await r.dbsize();
    assert.ok(n > 300 && n < 1100, `dbsize ${n}`);
    assert.equal(await r.get('m2999'), val);
    // a value that cannot fit at all is refused
    await assert.rejects(r.set('huge', 'y'.repeat(2 << 20)), /^ReplyError: OOM|OOM/);
    assert.equal(await r.get('m2999'), val);
    // raising the limit at run time
    assert.equal(await r.config('SET', 'maxmemory', '4mb'), 'OK');
    assert.equal(await r.set('huge', 'y'.repeat(2 << 20)), 'OK');
    const usage = await r.call('MEMORY', 'USAGE', 'huge');
    assert.ok(usage >= 2 << 20);
  } finally {
    r.disconnect();
    await srv.stop();
  }
});

test('both limits together, and FLUSHALL resets the gauges', async () => {
  const srv = await startServer(['--max-items', '500', '--maxmemory', '256kb']);
  const r = new Redis({ port: srv.port, host: '127.0.0.1' });
  try {
    const p = r.pipeline();
    for (let i = 0; i < 2000; i++) p.set(`b${i}`, i % 2 ? 'x'.repeat(2000) : 'small');
    await p.exec();
    const n = await r.dbsize();
    assert.ok(n <= 500, `dbsize ${n}`);
    assert.ok(field(await r.info('memory'), 'used_memory') <= 256 * 1024);
    await r.flushall();
    assert.equal(await r.dbsize(), 0);
    assert.equal(field(await r.info('memory'), 'used_memory'), 0);
    assert.ok(!(await r.info('keyspace')).includes('db0:'));
  } finally {
    r.disconnect();
    await srv.stop();
  }
});

test('--eviction-policy and maxmemory-policy: names, INFO, a live change, refusals', async () => {
  const srv = await startServer(['--eviction-policy', 'sieve', '--max-items', '50', '--shards', '1']);
  const r = new Redis({ port: srv.port, host: '127.0.0.1' });
  try {
    assert.deepEqual(await r.config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'sieve']);
    assert.match(await r.info('memory'), /eviction_policy:sieve\r\n/);
    // SIEVE: a key read since it was stored survives the next sweep
    for (let i = 0; i < 50; i++) await r.set(`k${i}`, 'v');
    assert.equal(await r.get('k0'), 'v');
    await r.set('new', 'v');
    assert.equal(await r.get('k0'), 'v');
    assert.equal(await r.exists('k1'), 0);
    assert.equal(await r.dbsize(), 50);
    // Redis names map; ours are accepted; the change applies to the live cache
    assert.equal(await r.config('SET', 'maxmemory-policy', 'allkeys-lfu'), 'OK');
    assert.deepEqual(await r.config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'allkeys-lfu']);
    assert.match(await r.info('memory'), /maxmemory_policy:allkeys-lfu\r\n/);
    assert.match(await r.info('memory'), /eviction_policy:wtinylfu\r\n/);
    assert.equal(await r.config('SET', 'maxmemory-policy', 'S3FIFO'), 'OK');
    assert.match(await r.info('memory'), /eviction_policy:s3fifo\r\n/);
    assert.equal(await r.dbsize(), 50); // switching evicts nothing
    for (let i = 100; i < 300; i++) await r.set(`k${i}`, 'v');
    assert.equal(await r.dbsize(), 50);
    // gdsf (cost-aware; plain SETs carry no compute time, so frequency
    // decides): a key read 5 times outlives 60 newer keys, which under lru
    // (capacity 50) it would not
    assert.equal(await r.config('SET', 'maxmemory-policy', 'gdsf'), 'OK');
    assert.deepEqual(await r.config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'gdsf']);
    assert.match(await r.info('memory'), /eviction_policy:gdsf\r\n/);
    const hot = (await r.keys('k*'))[0];
    for (let i = 0; i < 5; i++) assert.equal(await r.get(hot), 'v');
    for (let i = 300; i < 360; i++) await r.set(`k${i}`, 'v');
    assert.equal(await r.dbsize(), 50);
    assert.equal(await r.exists(hot), 1);
    assert.equal(await r.config('SET', 'maxmemory-policy', 's3fifo'), 'OK');
    // Redis policies with no equivalent are refused, the policy is kept
    for (const bad of ['volatile-lru', 'noeviction', 'allkeys-random']) {
      await assert.rejects(r.config('SET', 'maxmemory-policy', bad), /not supported/);
    }
    await assert.rejects(r.config('SET', 'maxmemory-policy', 'fifo'), /expected lru, s3fifo/);
    assert.match(await r.info('memory'), /eviction_policy:s3fifo\r\n/);
    assert.equal(await r.config('SET', 'maxmemory-policy', 'allkeys-lru'), 'OK');
    assert.match(await r.info('memory'), /eviction_policy:lru\r\n/);
  } finally {
    r.disconnect();
    await srv.stop();
  }
});
