'use strict';
// commands.test.js - every command rcached implements, driven through
// ioredis (an npm client nobody here wrote), checking Redis's replies and
// error texts.
//
// Time: the server runs with --enable-debug-command yes and every test
// starts with the cache clock frozen (DEBUG CLOCK-FREEZE), so TTLs, idle
// times and expiry are exact and only move when a test advances the clock
// (DEBUG CLOCK-ADVANCE); active expiry is run with DEBUG EXPIRE-CYCLE. The
// real clock gets its own test at the end, with bounds no machine misses.
const test = require('node:test');
const assert = require('node:assert/strict');
const Redis = require('ioredis');
const { startServer, raw, waitFor } = require('./helpers');

let srv;
let r;
let startedMs; // wall clock before the server started (LASTSAVE)
let now; // the frozen cache clock, ms since the epoch

test.before(async () => {
  startedMs = Date.now();
  srv = await startServer(['--threads', '2', '--enable-debug-command', 'yes']);
  r = new Redis({ port: srv.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  await r.ping();
});

test.after(async () => {
  if (r) r.disconnect();
  if (srv) await srv.stop();
});

test.beforeEach(async () => {
  await r.flushall();
  now = await r.call('DEBUG', 'CLOCK-FREEZE');
});

// Move the frozen cache clock forward by ms.
const advance = async (ms) => { now = await r.call('DEBUG', 'CLOCK-ADVANCE', String(ms)); };

const rejects = (p, re) => assert.rejects(p, (e) => {
  assert.match(e.message, re);
  return true;
});

test('connection: PING ECHO SELECT QUIT-less basics', async () => {
  assert.equal(await r.ping(), 'PONG');
  assert.equal(await r.call('PING', 'hi'), 'hi');
  await rejects(r.call('PING', 'a', 'b'), /^ERR wrong number of arguments for 'ping' command$/);
  assert.equal(await r.echo('hello'), 'hello');
  assert.equal(await r.select(0), 'OK');
  await rejects(r.select(16), /^ERR DB index is out of range$/);
  await rejects(r.call('SELECT', 'x'), /^ERR value is not an integer or out of range$/);
  await rejects(r.call('AUTH', 'pw'), /^ERR AUTH <password> called without any password configured/);
  await rejects(r.call('HELLO', '4'), /^NOPROTO/);
  const hello = await r.call('HELLO', '2');
  assert.equal(hello[0], 'server');
  assert.equal(hello[5], 2);
  await rejects(r.call('HELLO', 'x'), /^ERR Protocol version is not an integer or out of range$/);
});

test('QUIT, RESET, LASTSAVE, SUBSTR over a raw socket', async () => {
  const q = await raw(srv.port, 'PING\r\nQUIT\r\nPING\r\n', { timeout: 2000 });
  assert.equal(q.out, '+PONG\r\n+OK\r\n');
  assert.ok(q.closed);
  const rs = await raw(srv.port, 'CLIENT SETNAME x\r\nRESET\r\nCLIENT GETNAME\r\n',
    { until: (o) => o.endsWith('$-1\r\n') });
  assert.equal(rs.out, '+OK\r\n+RESET\r\n$-1\r\n');
  const ls = await r.call('LASTSAVE'); // the start time: nothing is saved
  assert.ok(ls >= Math.floor(startedMs / 1000) && ls <= Date.now() / 1000, String(ls));
  await r.set('s', 'Hello');
  assert.equal(await r.call('SUBSTR', 's', '1', '3'), 'ell');
  await rejects(r.call('ECHO'), /^ERR wrong number of arguments for 'echo' command$/);
  await rejects(r.call('CLIENT', 'SETNAME'), /^ERR wrong number of arguments for 'client\|setname' command$/);
});

test('unknown command and arity errors use Redis text', async () => {
  await rejects(r.call('FOO', 'a', 'b'), /^ERR unknown command 'FOO', with args beginning with: 'a' 'b' $/);
  await rejects(r.call('get'), /^ERR wrong number of arguments for 'get' command$/);
  await rejects(r.call('SET', 'k'), /^ERR wrong number of arguments for 'set' command$/);
  await rejects(r.call('MSET', 'a', 'b', 'c'), /^ERR wrong number of arguments for 'mset' command$/);
});

test('CLIENT subcommands', async () => {
  const id = await r.call('CLIENT', 'ID');
  assert.ok(Number(id) > 0);
  assert.equal(await r.call('CLIENT', 'GETNAME'), null);
  assert.equal(await r.call('CLIENT', 'SETNAME', 'tester'), 'OK');
  assert.equal(await r.call('CLIENT', 'GETNAME'), 'tester');
  await rejects(r.call('CLIENT', 'SETNAME', 'a b'), /^ERR Client names cannot contain spaces/);
  const info = await r.call('CLIENT', 'INFO');
  assert.match(info, new RegExp(`^id=${id} addr=127\\.0\\.0\\.1:\\d+ .*name=tester .*cmd=client\\|info`));
  const list = await r.call('CLIENT', 'LIST');
  assert.match(list, /name=tester/);
  await rejects(r.call('CLIENT', 'BOGUS'), /^ERR unknown subcommand 'BOGUS'\. Try CLIENT HELP\.$/);
  assert.equal(await r.call('CLIENT', 'SETINFO', 'LIB-NAME', 'x'), 'OK');
});

test('CLIENT KILL by ID, ADDR and the old form', async () => {
  const mk = () => new Redis({ port: srv.port, host: '127.0.0.1', retryStrategy: () => null,
    maxRetriesPerRequest: 0 });
  const closed = (cl) => new Promise((res) => cl.once('end', res));
  const v1 = mk();
  const v2 = mk();
  const v3 = mk();
  const id1 = await v1.call('CLIENT', 'ID');
  const addr2 = (await v2.call('CLIENT', 'INFO')).match(/ addr=(\S+) /)[1];
  const addr3 = (await v3.call('CLIENT', 'INFO')).match(/ addr=(\S+) /)[1];
  let end = closed(v1);
  assert.equal(await r.call('CLIENT', 'KILL', 'ID', String(id1)), 1);
  await end;
  end = closed(v2);
  assert.equal(await r.call('CLIENT', 'KILL', 'ADDR', addr2, 'SKIPME', 'yes'), 1);
  await end;
  end = closed(v3);
  assert.equal(await r.call('CLIENT', 'KILL', addr3), 'OK');
  await end;
  await rejects(r.call('CLIENT', 'KILL', '1.2.3.4:5'), /^ERR No such client$/);
  assert.equal(await r.call('CLIENT', 'KILL', 'ID', '999999'), 0);
  await rejects(r.call('CLIENT', 'KILL', 'ID', '0'), /^ERR client-id should be greater than 0$/);
  await rejects(r.call('CLIENT', 'KILL', 'BOGUS', 'x'), /^ERR syntax error$/);
  assert.equal(await r.ping(), 'PONG');
});

test('COMMAND COUNT / INFO / DOCS', async () => {
  const n = await r.call('COMMAND', 'COUNT');
  assert.ok(n > 50);
  const info = await r.call('COMMAND', 'INFO', 'get', 'nosuch');
  assert.equal(info[0][0], 'get');
  assert.equal(info[0][1], 2);
  assert.equal(info[1], null);
  const docs = await r.call('COMMAND', 'DOCS', 'set');
  assert.equal(docs[0], 'set');
  assert.ok(docs[1].includes('summary'));
  const all = await r.call('COMMAND');
  assert.equal(all.length, n);
});

test('GET SET and SET options', async () => {
  assert.equal(await r.get('k'), null);
  assert.equal(await r.set('k', 'v'), 'OK');
  assert.equal(await r.get('k'), 'v');
  assert.equal(await r.set('k', 'v2', 'NX'), null);
  assert.equal(await r.set('n', 'v', 'XX'), null);
  assert.equal(await r.set('k', 'v3', 'XX'), 'OK');
  assert.equal(await r.set('k', 'v4', 'GET'), 'v3');
  assert.equal(await r.set('new', 'x', 'GET'), null);
  assert.equal(await r.set('k', 'v5', 'NX', 'GET'), 'v4');
  assert.equal(await r.get('k'), 'v4');
  assert.equal(await r.set('k', 'v', 'EX', '100'), 'OK');
  assert.equal(await r.ttl('k'), 100);
  assert.equal(await r.pttl('k'), 100000);
  assert.equal(await r.set('k', 'v', 'PX', '100000'), 'OK');
  await advance(1);
  assert.equal(await r.pttl('k'), 99999);
  assert.equal(await r.set('k', 'w', 'KEEPTTL'), 'OK');
  assert.equal(await r.pttl('k'), 99999);
  assert.equal(await r.set('k', 'w'), 'OK');
  assert.equal(await r.ttl('k'), -1);
  const at = Math.floor(now / 1000) + 1000;
  assert.equal(await r.set('k', 'v', 'EXAT', String(at)), 'OK');
  assert.equal(await r.call('EXPIRETIME', 'k'), at);
  assert.equal(await r.set('k', 'v', 'PXAT', String(at * 1000)), 'OK');
  assert.equal(await r.call('PEXPIRETIME', 'k'), at * 1000);
  assert.equal(await r.set('k', 'v', 'PXAT', String(now - 1000)), 'OK');
  assert.equal(await r.get('k'), null);
  assert.equal(await r.set('k', 'v', 'PXAT', String(now + 1)), 'OK');
  assert.equal(await r.get('k'), 'v');
  await advance(1);
  assert.equal(await r.get('k'), null);
  await rejects(r.set('k', 'v', 'NX', 'XX'), /^ERR syntax error$/);
  await rejects(r.set('k', 'v', 'EX', '10', 'PX', '10'), /^ERR syntax error$/);
  await rejects(r.set('k', 'v', 'EX', '0'), /^ERR invalid expire time in 'set' command$/);
  await rejects(r.set('k', 'v', 'EX', '-5'), /^ERR invalid expire time in 'set' command$/);
  await rejects(r.set('k', 'v', 'EX', 'abc'), /^ERR value is not an integer or out of range$/);
  await rejects(r.set('k', 'v', 'KEEPTTL', 'EX', '5'), /^ERR syntax error$/);
  await rejects(r.set('k', 'v', 'BOGUS'), /^ERR syntax error$/);
  // binary-safe values
  const bin = Buffer.from([0, 1, 2, 255, 13, 10, 0]);
  await r.set('bin', bin);
  assert.deepEqual(await r.getBuffer('bin'), bin);
  // big value (zero-copy path)
  const big = 'x'.repeat(1 << 20);
  await r.set('big', big);
  assert.equal(await r.get('big'), big);
  assert.equal(await r.strlen('big'), 1 << 20);
});

test('GETEX GETDEL SETEX PSETEX SETNX GETSET', async () => {
  await r.set('k', 'v');
  assert.equal(await r.getex('k'), 'v');
  assert.equal(await r.getex('k', 'EX', 100), 'v');
  assert.equal(await r.ttl('k'), 100);
  assert.equal(await r.getex('k', 'PERSIST'), 'v');
  assert.equal(await r.ttl('k'), -1);
  assert.equal(await r.getex('k', 'PX', 50000), 'v');
  assert.equal(await r.pttl('k'), 50000);
  assert.equal(await r.getex('k', 'EXAT', Math.floor(now / 1000) + 500), 'v');
  assert.equal(await r.call('EXPIRETIME', 'k'), Math.floor(now / 1000) + 500);
  assert.equal(await r.getex('k', 'PXAT', now - 10), 'v');
  assert.equal(await r.exists('k'), 0);
  assert.equal(await r.getex('missing', 'EX', 10), null);
  await rejects(r.getex('k', 'EX', 0), /^ERR invalid expire time in 'getex' command$/);
  await rejects(r.call('GETEX', 'k', 'PERSIST', 'EX', '1'), /^ERR syntax error$/);
  await r.set('k', 'v');
  assert.equal(await r.getdel('k'), 'v');
  assert.equal(await r.getdel('k'), null);
  assert.equal(await r.setex('s', 100, 'v'), 'OK');
  assert.equal(await r.ttl('s'), 100);
  await rejects(r.setex('s', 0, 'v'), /^ERR invalid expire time in 'setex' command$/);
  assert.equal(await r.psetex('p', 100000, 'v'), 'OK');
  assert.equal(await r.pttl('p'), 100000);
  await rejects(r.psetex('p', -1, 'v'), /^ERR invalid expire time in 'psetex' command$/);
  assert.equal(await r.setnx('nx', 'a'), 1);
  assert.equal(await r.setnx('nx', 'b'), 0);
  assert.equal(await r.get('nx'), 'a');
  assert.equal(await r.getset('nx', 'c'), 'a');
  assert.equal(await r.getset('nx2', 'c'), null);
});

// MGET looks keys up 16 at a time (rcache_get_many_ref): every reply in
// order across the batches, a miss counted for each absent key and a hit
// for each found one, the empty key nil without either, expired keys nil.
test('MGET of many keys across lookup batches', async () => {
  const keys = [];
  const want = [];
  for (let i = 0; i < 41; i++) {
    const k = `mg:${i}`;
    keys.push(k);
    if (i % 3 === 0) { want.push(null); continue; }
    await r.set(k, `value-${i}`);
    if (i % 7 === 1) { await r.pexpire(k, 10); want.push(null); } else want.push(`value-${i}`);
  }
  await advance(20);
  keys.splice(17, 0, ''); // the empty key, in the middle of a batch
  want.splice(17, 0, null);
  const stat = async (name) => Number((await r.info('stats')).match(new RegExp(`${name}:(\\d+)`))[1]);
  const hits0 = await stat('keyspace_hits');
  const misses0 = await stat('keyspace_misses');
  assert.deepEqual(await r.mget(...keys), want);
  const found = want.filter((v) => v !== null).length;
  assert.equal(await stat('keyspace_hits') - hits0, found);
  assert.equal(await stat('keyspace_misses') - misses0, keys.length - 1 - found);
});

test('MGET MSET MSETNX STRLEN APPEND GETRANGE SETRANGE', async () => {
  assert.equal(await r.mset('a', '1', 'b', '2'), 'OK');
  assert.deepEqual(await r.mget('a', 'b', 'c'), ['1', '2', null]);
  assert.equal(await r.msetnx('c', '3', 'a', 'x'), 0);
  assert.equal(await r.get('c'), null);
  assert.equal(await r.msetnx('c', '3', 'd', '4'), 1);
  assert.deepEqual(await r.mget('c', 'd'), ['3', '4']);
  assert.equal(await r.strlen('nokey'), 0);
  assert.equal(await r.append('s', 'Hello'), 5);
  assert.equal(await r.append('s', ' World'), 11);
  assert.equal(await r.get('s'), 'Hello World');
  assert.equal(await r.strlen('s'), 11);
  assert.equal(await r.getrange('s', 0, 4), 'Hello');
  assert.equal(await r.getrange('s', -5, -1), 'World');
  assert.equal(await r.getrange('s', 0, -1), 'Hello World');
  assert.equal(await r.getrange('s', 10, 100), 'd');
  assert.equal(await r.getrange('s', 5, 3), '');
  assert.equal(await r.getrange('nokey', 0, -1), '');
  await rejects(r.getrange('s', 'a', 1), /^ERR value is not an integer or out of range$/);
  assert.equal(await r.setrange('s', 6, 'Redis'), 11);
  assert.equal(await r.get('s'), 'Hello Redis');
  assert.equal(await r.setrange('pad', 5, 'x'), 6);
  assert.deepEqual(await r.getBuffer('pad'), Buffer.from([0, 0, 0, 0, 0, 0x78]));
  assert.equal(await r.setrange('empty', 0, ''), 0);
  assert.equal(await r.exists('empty'), 0);
  await rejects(r.setrange('s', -1, 'x'), /^ERR offset is out of range$/);
  await rejects(r.setrange('s', 536870911, 'xx'), /^ERR string exceeds maximum allowed size \(proto-max-bulk-len\)$/);
  // APPEND keeps the TTL
  await r.set('t', 'a', 'EX', 100);
  await advance(1000);
  await r.append('t', 'b');
  assert.equal(await r.pttl('t'), 99000);
});

test('INCR family', async () => {
  assert.equal(await r.incr('n'), 1);
  assert.equal(await r.incrby('n', 10), 11);
  assert.equal(await r.decr('n'), 10);
  assert.equal(await r.decrby('n', 20), -10);
  assert.equal(await r.get('n'), '-10');
  await r.set('n', '9223372036854775806');
  await r.incr('n');
  assert.equal(await r.get('n'), '9223372036854775807');
  await rejects(r.incr('n'), /^ERR increment or decrement would overflow$/);
  await r.set('s', 'abc');
  await rejects(r.incr('s'), /^ERR value is not an integer or out of range$/);
  await r.set('s', ' 1');
  await rejects(r.incr('s'), /^ERR value is not an integer or out of range$/);
  await rejects(r.incrby('n', 'x'), /^ERR value is not an integer or out of range$/);
  await r.set('f', '10.50');
  // valgrind emulates long double with 64 bits, hence the second form
  assert.ok(['10.6', '10.59999999999999964'].includes(await r.incrbyfloat('f', '0.1')));
  assert.equal(Number(await r.incrbyfloat('f', '-5')).toFixed(6), '5.600000');
  await r.set('f', '5.0e3');
  assert.equal(await r.incrbyfloat('f', '2.0e2'), '5200');
  assert.equal(await r.incrbyfloat('nf', '3'), '3');
  await rejects(r.incrbyfloat('f', 'abc'), /^ERR value is not a valid float$/);
  await r.set('s', 'abc');
  await rejects(r.incrbyfloat('s', '1'), /^ERR value is not a valid float$/);
  await r.set('t', '1', 'EX', 100);
  await advance(1000);
  await r.incr('t');
  assert.equal(await r.pttl('t'), 99000);
  // concurrent increments over several connections are never lost
  const clients = Array.from({ length: 8 }, () => new Redis({ port: srv.port, host: '127.0.0.1' }));
  await Promise.all(clients.map(async (c) => {
    const p = c.pipeline();
    for (let i = 0; i < 500; i++) p.incr('counter');
    await p.exec();
  }));
  clients.forEach((c) => c.disconnect());
  assert.equal(await r.get('counter'), '4000');
});

test('DEL UNLINK EXISTS TOUCH TYPE RENAME RENAMENX', async () => {
  await r.mset('a', '1', 'b', '2', 'c', '3');
  assert.equal(await r.exists('a', 'b', 'x', 'a'), 3);
  assert.equal(await r.touch('a', 'x'), 1);
  assert.equal(await r.del('a', 'x'), 1);
  assert.equal(await r.unlink('b', 'c'), 2);
  assert.equal(await r.exists('a', 'b', 'c'), 0);
  await r.set('s', 'v', 'EX', 100);
  assert.equal(await r.type('s'), 'string');
  assert.equal(await r.type('nokey'), 'none');
  assert.equal(await r.rename('s', 't'), 'OK');
  assert.equal(await r.get('t'), 'v');
  assert.equal(await r.ttl('t'), 100, 'rename keeps TTL');
  await rejects(r.rename('nokey', 'x'), /^ERR no such key$/);
  await r.set('u', 'w');
  assert.equal(await r.renamenx('t', 'u'), 0);
  assert.equal(await r.renamenx('t', 'v2'), 1);
  assert.equal(await r.get('v2'), 'v');
  await rejects(r.renamenx('nokey', 'x'), /^ERR no such key$/);
  assert.equal(await r.rename('u', 'u'), 'OK');
});

test('KEYS SCAN RANDOMKEY DBSIZE FLUSHDB FLUSHALL', async () => {
  assert.equal(await r.randomkey(), null);
  const p = r.pipeline();
  for (let i = 0; i < 300; i++) p.set(`user:${i}`, i);
  for (let i = 0; i < 50; i++) p.set(`other:${i}`, i);
  await p.exec();
  assert.equal(await r.dbsize(), 350);
  const keys = await r.keys('user:*');
  assert.equal(keys.length, 300);
  assert.equal((await r.keys('*')).length, 350);
  assert.deepEqual((await r.keys('user:1?')).sort(), Array.from({ length: 10 }, (_, i) => `user:1${i}`).sort());
  const seen = new Set();
  let cursor = '0';
  let rounds = 0;
  do {
    const [next, batch] = await r.scan(cursor, 'MATCH', 'user:*', 'COUNT', 50);
    batch.forEach((k) => seen.add(k));
    cursor = next;
    rounds++;
  } while (cursor !== '0' && rounds < 10000);
  assert.equal(seen.size, 300);
  const [, typed] = await r.call('SCAN', '0', 'COUNT', '1000', 'TYPE', 'hash');
  assert.equal(typed.length, 0);
  await rejects(r.call('SCAN', 'abc'), /^ERR invalid cursor$/);
  await rejects(r.call('SCAN', '0', 'COUNT', '0'), /^ERR syntax error$/);
  await rejects(r.call('SCAN', '0', 'BOGUS', 'x'), /^ERR syntax error$/);
  const rk = await r.randomkey();
  assert.ok(rk.startsWith('user:') || rk.startsWith('other:'));
  assert.equal(await r.flushdb(), 'OK');
  assert.equal(await r.dbsize(), 0);
  await r.set('a', 1);
  assert.equal(await r.call('FLUSHALL', 'ASYNC'), 'OK');
  assert.equal(await r.dbsize(), 0);
  await rejects(r.call('FLUSHALL', 'BOGUS'), /^ERR syntax error$/);
});

test('EXPIRE family with NX XX GT LT, TTL, PERSIST', async () => {
  await r.set('k', 'v');
  assert.equal(await r.ttl('k'), -1);
  assert.equal(await r.ttl('nokey'), -2);
  assert.equal(await r.pttl('nokey'), -2);
  assert.equal(await r.call('EXPIRETIME', 'k'), -1);
  assert.equal(await r.call('EXPIRETIME', 'nokey'), -2);
  assert.equal(await r.expire('nokey', 10), 0);
  assert.equal(await r.call('EXPIRE', 'k', '100', 'XX'), 0);
  assert.equal(await r.call('EXPIRE', 'k', '100', 'GT'), 0);
  assert.equal(await r.call('EXPIRE', 'k', '100', 'NX'), 1);
  assert.equal(await r.call('EXPIRE', 'k', '200', 'NX'), 0);
  assert.equal(await r.call('EXPIRE', 'k', '50', 'GT'), 0);
  assert.equal(await r.call('EXPIRE', 'k', '200', 'GT'), 1);
  assert.equal(await r.call('EXPIRE', 'k', '300', 'LT'), 0);
  assert.equal(await r.call('EXPIRE', 'k', '150', 'LT'), 1);
  assert.equal(await r.call('EXPIRE', 'k', '120', 'XX'), 1);
  assert.equal(await r.ttl('k'), 120);
  assert.equal(await r.pexpire('k', 100000), 1);
  assert.equal(await r.pttl('k'), 100000);
  const at = Math.floor(now / 1000) + 1000;
  assert.equal(await r.expireat('k', at), 1);
  assert.equal(await r.call('EXPIRETIME', 'k'), at);
  assert.equal(await r.pexpireat('k', at * 1000 + 5), 1);
  assert.equal(await r.call('PEXPIRETIME', 'k'), at * 1000 + 5);
  assert.equal(await r.persist('k'), 1);
  assert.equal(await r.persist('k'), 0);
  assert.equal(await r.ttl('k'), -1);
  assert.equal(await r.expire('k', -1), 1);
  assert.equal(await r.exists('k'), 0);
  await r.set('k', 'v');
  assert.equal(await r.expireat('k', 1), 1);
  assert.equal(await r.get('k'), null);
  await rejects(r.call('EXPIRE', 'k', '10', 'NX', 'XX'), /^ERR NX and XX, GT or LT options at the same time are not compatible$/);
  await rejects(r.call('EXPIRE', 'k', '10', 'GT', 'LT'), /^ERR GT and LT options at the same time are not compatible$/);
  await rejects(r.call('EXPIRE', 'k', '10', 'FOO'), /^ERR Unsupported option FOO$/);
  await rejects(r.call('EXPIRE', 'k', 'x'), /^ERR value is not an integer or out of range$/);
  await rejects(r.call('EXPIRE', 'k', '9223372036854775807'), /^ERR invalid expire time in 'expire' command$/);
});

const expiredKeys = async () => Number((await r.info('stats')).match(/expired_keys:(\d+)/)[1]);

test('TTL expiry with short PX values', async () => {
  await r.set('short', 'v', 'PX', 100);
  await r.psetex('short2', 100, 'v');
  await r.set('long', 'v', 'PX', 60000);
  assert.equal(await r.get('short'), 'v');
  await advance(99);
  assert.equal(await r.get('short'), 'v');
  assert.equal(await r.pttl('short2'), 1);
  await advance(1);
  assert.equal(await r.get('short'), null);
  assert.equal(await r.exists('short2'), 0);
  assert.equal(await r.get('long'), 'v');
});

test('active expiry reclaims without any access (DEBUG EXPIRE-CYCLE)', async () => {
  await r.call('DEBUG', 'SET-ACTIVE-EXPIRE', '0');
  try {
    await r.set('long', 'v', 'PX', 60000);
    const p = r.pipeline();
    for (let i = 0; i < 200; i++) p.set(`e:${i}`, 'v', 'PX', 50);
    await p.exec();
    const before = await expiredKeys();
    assert.equal(await r.call('DEBUG', 'EXPIRE-CYCLE'), 0, 'nothing has expired yet');
    assert.equal(await r.dbsize(), 201);
    await advance(50);
    assert.equal(await r.dbsize(), 201, 'the timer is off: nothing reclaimed until a cycle');
    let reclaimed = 0;
    for (let i = 0; i < 1000 && reclaimed < 200; i++) {
      reclaimed += await r.call('DEBUG', 'EXPIRE-CYCLE');
    }
    assert.equal(reclaimed, 200);
    assert.equal(await expiredKeys() - before, 200);
    assert.equal(await r.dbsize(), 1);
    assert.equal(await r.get('long'), 'v');
  } finally {
    await r.call('DEBUG', 'SET-ACTIVE-EXPIRE', '1');
  }
});

test('active expiry timer reclaims on its own', async () => {
  const p = r.pipeline();
  for (let i = 0; i < 200; i++) p.set(`e:${i}`, 'v', 'PX', 50);
  await p.exec();
  const before = await expiredKeys();
  await advance(50);
  // The timer runs every 100 ms: wait for its work, however slow the machine.
  await waitFor(async () => (await r.dbsize()) === 0, 'the expiry timer to empty the cache');
  assert.equal(await expiredKeys() - before, 200);
});

test('DEBUG: clock, errors, HELP; refused unless enabled', async () => {
  const t0 = await r.call('DEBUG', 'CLOCK-ADVANCE', '0');
  assert.equal(t0, now, 'frozen');
  assert.equal(await r.call('DEBUG', 'CLOCK-ADVANCE', '1500'), now + 1500);
  await rejects(r.call('DEBUG', 'CLOCK-ADVANCE', '-1'), /^ERR the cache clock only moves forward$/);
  await rejects(r.call('DEBUG', 'CLOCK-FREEZE', String(now)), /^ERR the cache clock only moves forward$/);
  assert.equal(await r.call('DEBUG', 'CLOCK-FREEZE', String(now + 5000)), now + 5000);
  await r.set('k', 'v', 'EX', '10');
  assert.equal(await r.call('PEXPIRETIME', 'k'), now + 5000 + 10000);
  const resumed = await r.call('DEBUG', 'CLOCK-RESUME');
  assert.ok(resumed >= now + 5000, 'resumes from the frozen time');
  assert.ok(await r.call('DEBUG', 'CLOCK-ADVANCE', '0') >= resumed, 'never backwards');
  assert.equal(await r.call('DEBUG', 'SLEEP', '0'), 'OK');
  assert.equal(await r.call('DEBUG', 'SLEEP', '0.01'), 'OK');
  await rejects(r.call('DEBUG', 'SLEEP', 'x'), /^ERR value is not a valid float/);
  await rejects(r.call('DEBUG', 'SET-ACTIVE-EXPIRE', '2'), /^ERR value must be 0 or 1$/);
  await rejects(r.call('DEBUG', 'EXPIRE-CYCLE', 'x'), /^ERR syntax error$/);
  await rejects(r.call('DEBUG', 'BOGUS'), /^ERR unknown subcommand 'BOGUS'\. Try DEBUG HELP\.$/);
  const help = await r.call('DEBUG', 'HELP');
  assert.ok(help.some((l) => l.startsWith('CLOCK-ADVANCE')));
  assert.deepEqual(await r.config('GET', 'enable-debug-command'), ['enable-debug-command', 'yes']);
  await rejects(r.config('SET', 'enable-debug-command', 'no'), /can't set immutable config/);
  const plain = await startServer([]);
  const p = new Redis({ port: plain.port, host: '127.0.0.1' });
  try {
    await rejects(p.call('DEBUG', 'CLOCK-ADVANCE', '1000'), /^ERR DEBUG command not allowed/);
    await rejects(p.call('DEBUG', 'EXPIRE-CYCLE'), /^ERR DEBUG command not allowed/);
    assert.deepEqual(await p.config('GET', 'enable-debug-command'), ['enable-debug-command', 'no']);
  } finally {
    p.disconnect();
    await plain.stop();
  }
});

test('INFO sections and fields', async () => {
  await r.set('a', '1');
  await r.set('b', '2', 'EX', 100);
  await r.get('a');
  await r.get('zz');
  const all = await r.info();
  for (const f of ['# Server', 'redis_version:', 'tcp_port:', 'uptime_in_seconds:',
    '# Clients', 'connected_clients:', '# Memory', 'used_memory:', 'maxmemory:',
    'maxmemory_policy:allkeys-lru', '# Stats', 'keyspace_hits:', 'keyspace_misses:',
    'evicted_keys:', 'expired_keys:', 'total_commands_processed:', '# Keyspace']) {
    assert.ok(all.includes(f), `missing ${f}`);
  }
  // keys, expires and avg_ttl come from the library's counters (issue 10
  // item 10): b has EX 100, so its remaining TTL is within (0, 100000] ms.
  const ks = all.match(/db0:keys=2,expires=1,avg_ttl=(\d+)/);
  assert.ok(ks, 'db0 line');
  assert.ok(Number(ks[1]) > 0 && Number(ks[1]) <= 100000, `avg_ttl=${ks[1]}`);
  assert.match(all, new RegExp(`tcp_port:${srv.port}\\r\\n`));
  assert.ok(Number(all.match(/keyspace_hits:(\d+)/)[1]) >= 1);
  assert.ok(Number(all.match(/keyspace_misses:(\d+)/)[1]) >= 1);
  const mem = await r.info('memory');
  assert.ok(mem.startsWith('# Memory'));
  assert.ok(!mem.includes('# Server'));
  const two = await r.call('INFO', 'server', 'keyspace');
  assert.ok(two.includes('# Server') && two.includes('# Keyspace') && !two.includes('# Stats'));
  const cs = await r.info('commandstats');
  assert.match(cs, /cmdstat_set:calls=\d+/);
});

test('CONFIG GET / SET', async () => {
  const mm = await r.config('GET', 'maxmemory');
  assert.deepEqual(mm, ['maxmemory', String(512 * 1024 * 1024)]);
  assert.deepEqual(await r.config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'allkeys-lru']);
  const many = await r.config('GET', 'max*');
  assert.ok(many.includes('max-items') && many.includes('maxclients') && many.includes('maxmemory'));
  assert.equal(await r.config('SET', 'maxmemory', '100mb'), 'OK');
  assert.deepEqual(await r.config('GET', 'maxmemory'), ['maxmemory', String(100 * 1024 * 1024)]);
  assert.match(await r.info('memory'), /maxmemory:104857600/);
  assert.equal(await r.config('SET', 'max-items', '1000', 'default-ttl', '0'), 'OK');
  assert.deepEqual(await r.config('GET', 'max-items'), ['max-items', '1000']);
  await rejects(r.config('SET', 'maxmemory', 'lots'), /^ERR CONFIG SET failed \(possibly related to argument 'maxmemory'\)/);
  await rejects(r.config('SET', 'nosuch', '1'), /^ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'$/);
  await rejects(r.config('SET', 'port', '1'), /can't set immutable config/);
  await rejects(r.config('SET', 'maxmemory-policy', 'volatile-lru'), /^ERR CONFIG SET failed/);
  assert.equal(await r.config('SET', 'maxmemory-policy', 'allkeys-lru'), 'OK');
  assert.equal(await r.config('SET', 'default-ttl', '60000'), 'OK');
  await r.set('dt', 'v');
  assert.equal(await r.pttl('dt'), 60000);
  assert.equal(await r.config('SET', 'default-ttl', '0'), 'OK');
  assert.equal(await r.config('SET', 'maxmemory', '512mb', 'max-items', '0'), 'OK');
  assert.equal(await r.config('RESETSTAT'), 'OK');
  await rejects(r.call('CONFIG', 'BOGUS'), /^ERR unknown subcommand 'BOGUS'\. Try CONFIG HELP\.$/);
});

test('MEMORY USAGE, OBJECT, RCACHE.INVALIDATE, TIME', async () => {
  await r.set('k', 'x'.repeat(1000));
  const usage = await r.call('MEMORY', 'USAGE', 'k');
  assert.ok(usage >= 1000 && usage < 4000, String(usage));
  assert.equal(await r.call('MEMORY', 'USAGE', 'nokey'), null);
  assert.equal(await r.call('OBJECT', 'ENCODING', 'k'), 'raw');
  await r.set('i', '12345');
  assert.equal(await r.call('OBJECT', 'ENCODING', 'i'), 'int');
  await r.set('e', 'short');
  assert.equal(await r.call('OBJECT', 'ENCODING', 'e'), 'embstr');
  assert.equal(await r.call('OBJECT', 'IDLETIME', 'k'), 0);
  await advance(5000);
  assert.equal(await r.call('OBJECT', 'IDLETIME', 'k'), 5);
  await r.get('e');
  await r.get('e');
  assert.equal(await r.call('OBJECT', 'IDLETIME', 'e'), 0, 'a read resets the idle time');
  assert.equal(await r.call('OBJECT', 'IDLETIME', 'k'), 5);
  assert.ok((await r.call('OBJECT', 'FREQ', 'e')) >= 2);
  assert.equal(await r.call('OBJECT', 'IDLETIME', 'nokey'), null);
  await rejects(r.call('OBJECT', 'BOGUS', 'k'), /^ERR unknown subcommand 'BOGUS'\. Try OBJECT HELP\.$/);
  const p = r.pipeline();
  for (let i = 0; i < 40; i++) p.set(`session:${i}`, 'v');
  await p.exec();
  assert.equal(await r.call('RCACHE.INVALIDATE', 'session:1*'), 11);
  assert.equal(await r.call('RCACHE.INVALIDATE', 'session:*'), 29);
  assert.equal(await r.exists('k'), 1);
  await rejects(r.call('RCACHE.INVALIDATE', 'bad['), /^ERR invalid pattern$/);
  const before = Date.now();
  const [sec, usec] = await r.call('TIME'); // the real clock, not the cache's
  assert.ok(Number(sec) >= Math.floor(before / 1000) && Number(sec) <= Date.now() / 1000, sec);
  assert.ok(Number(usec) < 1e6);
});

test('MULTI / EXEC / DISCARD / WATCH / UNWATCH', async () => {
  const res = await r.multi().set('tx', '1').incr('tx').get('tx').exec();
  assert.deepEqual(res, [[null, 'OK'], [null, 2], [null, '2']]);
  await rejects(r.exec(), /^ERR EXEC without MULTI$/);
  await rejects(r.discard(), /^ERR DISCARD without MULTI$/);
  const bad = r.multi();
  bad.set('tx', '5');
  bad.call('NOSUCHCMD');
  await assert.rejects(bad.exec(), /EXECABORT/);
  assert.equal(await r.get('tx'), '2');
  assert.equal(await r.multi({ pipeline: false }), 'OK');
  assert.equal(await r.set('tx', '9'), 'QUEUED');
  assert.equal(await r.discard(), 'OK');
  assert.equal(await r.get('tx'), '2');
  assert.equal(await r.watch('tx'), 'OK');
  assert.equal(await r.unwatch(), 'OK');
  assert.deepEqual(await r.multi().get('tx').exec(), [[null, '2']]);
});

test('pipelining 10k commands in one batch', async () => {
  const p = r.pipeline();
  for (let i = 0; i < 10000; i++) p.set(`p:${i}`, `v${i}`);
  for (let i = 0; i < 10000; i++) p.get(`p:${i}`);
  const res = await p.exec();
  assert.equal(res.length, 20000);
  for (let i = 0; i < 10000; i++) {
    assert.equal(res[i][1], 'OK');
    assert.equal(res[10000 + i][1], `v${i}`);
  }
});

test('200 concurrent connections', async () => {
  const clients = Array.from({ length: 200 }, () => new Redis({ port: srv.port, host: '127.0.0.1', maxRetriesPerRequest: 1 }));
  await Promise.all(clients.map(async (c, i) => {
    for (let j = 0; j < 20; j++) {
      await c.set(`c:${i}:${j}`, `${i}-${j}`);
      assert.equal(await c.get(`c:${i}:${j}`), `${i}-${j}`);
    }
  }));
  const info = await r.info('clients');
  assert.ok(Number(info.match(/connected_clients:(\d+)/)[1]) >= 201);
  clients.forEach((c) => c.disconnect());
  assert.equal(await r.dbsize(), 4000);
});

test('real clock (no DEBUG): TTLs count down and keys expire', async () => {
  const plain = await startServer([]);
  const p = new Redis({ port: plain.port, host: '127.0.0.1' });
  try {
    await p.set('k', 'v', 'EX', '100');
    const pttl = await p.pttl('k');
    assert.ok(pttl > 0 && pttl <= 100000, String(pttl));
    await p.set('short', 'v', 'PX', '1');
    // expires on read, and the timer reclaims what nobody reads
    await waitFor(async () => (await p.get('short')) === null, 'a 1 ms key to expire');
    const q = p.pipeline();
    for (let i = 0; i < 50; i++) q.set(`e:${i}`, 'v', 'PX', '1');
    await q.exec();
    await waitFor(async () => (await p.dbsize()) === 1, 'the expiry timer to reclaim');
    assert.equal(await p.get('k'), 'v');
  } finally {
    p.disconnect();
    await plain.stop();
  }
});
