'use strict';
// scripting.test.js - ioredis against rcached's Lua scripting and
// transactions and databases (issue 11): defineCommand scripts (EVALSHA with its NOSCRIPT
// fallback to EVAL), multi()/exec() atomic and with WATCH, EXECABORT, and
// scripts run concurrently with MULTI readers never showing a half state.
// No assertion depends on how long anything takes.
const test = require('node:test');
const assert = require('node:assert/strict');
const Redis = require('ioredis');
const { startServer } = require('./helpers');

let srv;
let r;
const opts = () => ({ port: srv.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });

test.before(async () => {
  srv = await startServer(['--threads', '2']);
  r = new Redis(opts());
  await r.ping();
});

test.after(async () => {
  if (r) r.disconnect();
  if (srv) await srv.stop();
});

test('defineCommand: EVALSHA, NOSCRIPT fallback after SCRIPT FLUSH', async () => {
  r.defineCommand('getset2', {
    numberOfKeys: 1,
    lua: "local old = redis.call('GET', KEYS[1]) redis.call('SET', KEYS[1], ARGV[1]) return old",
  });
  await r.del('ds');
  assert.equal(await r.getset2('ds', 'a'), null);
  assert.equal(await r.getset2('ds', 'b'), 'a');
  await r.script('FLUSH');
  assert.equal(await r.getset2('ds', 'c'), 'b');
  const sha = await r.script('LOAD', 'return 42');
  assert.deepEqual(await r.script('EXISTS', sha, 'nope'), [1, 0]);
  assert.equal(await r.evalsha(sha, 0), 42);
  await assert.rejects(r.evalsha('f'.repeat(40), 0), /NOSCRIPT/);
});

test('multi()/exec(): results, EXECABORT, WATCH abort', async () => {
  await r.set('m', '1');
  const res = await r.multi().incr('m').get('m').exec();
  assert.deepEqual(res, [[null, 2], [null, '2']]);
  await assert.rejects(r.multi().set('x', '1').call('NOSUCHCMD').exec(), /EXECABORT/);

  const w = new Redis(opts());
  const other = new Redis(opts());
  await w.watch('m');
  await other.set('m', '10');
  assert.equal(await w.multi().incr('m').exec(), null);
  await w.watch('m');
  assert.deepEqual(await w.multi().incr('m').exec(), [[null, 11]]);
  w.disconnect();
  other.disconnect();
});

test('scripts and transactions are atomic against each other', async () => {
  await r.mset('t:a', '500', 't:b', '500');
  const movers = [];
  for (let i = 0; i < 4; i++) {
    const c = new Redis(opts());
    c.defineCommand('move', {
      numberOfKeys: 2,
      lua: "redis.call('DECRBY', KEYS[1], ARGV[1]) redis.call('INCRBY', KEYS[2], ARGV[1]) return 1",
    });
    movers.push((async () => {
      for (let j = 0; j < 200; j++) {
        const d = (i * 5 + j) % 9 - 4;
        if (j % 2) await c.move('t:a', 't:b', d);
        else await c.multi().decrby('t:a', d).incrby('t:b', d).exec();
      }
      c.disconnect();
    })());
  }
  let done = false;
  const all = Promise.all(movers).then(() => { done = true; });
  let checks = 0;
  while (!done) {
    const res = await r.multi().get('t:a').get('t:b').exec();
    assert.equal(Number(res[0][1]) + Number(res[1][1]), 1000);
    const both = await r.eval("return {redis.call('GET','t:a'), redis.call('GET','t:b')}", 0);
    assert.equal(Number(both[0]) + Number(both[1]), 1000);
    checks++;
  }
  await all;
  assert.ok(checks > 0);
});

test('select: databases are separate keyspaces', async () => {
  const d2 = new Redis({ ...opts(), db: 2 });
  await r.set('sel', 'zero');
  await d2.set('sel', 'two');
  assert.equal(await r.get('sel'), 'zero');
  assert.equal(await d2.get('sel'), 'two');
  assert.deepEqual(await d2.keys('sel*'), ['sel']);
  assert.equal(await d2.dbsize(), 1);
  assert.deepEqual(await d2.multi().get('sel').exec(), [[null, 'two']]);
  await d2.select(0);
  assert.equal(await d2.get('sel'), 'zero');
  d2.disconnect();
});
