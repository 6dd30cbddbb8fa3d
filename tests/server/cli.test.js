'use strict';
// cli.test.js - rcached driven by redis-cli (Debian redis-tools), the way
// an operator uses it: one-shot commands, RESP output with --no-raw,
// scripted input on stdin, --scan, --pipe mass insertion and --stat style
// INFO reads.
const test = require('node:test');
const assert = require('node:assert/strict');
const { startServer, cli } = require('./helpers');

let srv;

test.before(async () => {
  // DEBUG CLOCK-FREEZE makes the TTL check exact (docs/SERVER.md)
  srv = await startServer(['--threads', '2', '--enable-debug-command', 'yes']);
});

test.after(async () => {
  if (srv) await srv.stop();
});

async function ok(args, expected) {
  const r = await cli(srv.port, args);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, expected, `redis-cli ${args.join(' ')}`);
}

test('one-shot commands', async () => {
  await ok(['FLUSHALL'], 'OK\n');
  await ok(['PING'], 'PONG\n');
  await ok(['SET', 'greeting', 'hello world'], 'OK\n');
  await ok(['GET', 'greeting'], 'hello world\n');
  await ok(['--no-raw', 'GET', 'greeting'], '"hello world"\n');
  await ok(['--no-raw', 'GET', 'missing'], '(nil)\n');
  await ok(['--no-raw', 'INCR', 'counter'], '(integer) 1\n');
  await ok(['INCRBY', 'counter', '41'], '42\n');
  await ok(['--no-raw', 'MGET', 'greeting', 'missing', 'counter'],
    '1) "hello world"\n2) (nil)\n3) "42"\n');
  await ok(['APPEND', 'greeting', '!'], '12\n');
  await ok(['GETRANGE', 'greeting', '0', '4'], 'hello\n');
  const frozen = await cli(srv.port, ['DEBUG', 'CLOCK-FREEZE']);
  assert.match(frozen.stdout, /^\d+\n$/);
  await ok(['SETEX', 'tmp', '100', 'x'], 'OK\n');
  await ok(['TTL', 'tmp'], '100\n');
  await ok(['DEBUG', 'CLOCK-ADVANCE', '1000'], `${Number(frozen.stdout) + 1000}\n`);
  await ok(['TTL', 'tmp'], '99\n');
  await ok(['PERSIST', 'tmp'], '1\n');
  await ok(['TTL', 'tmp'], '-1\n');
  await ok(['TYPE', 'tmp'], 'string\n');
  await ok(['RENAME', 'tmp', 'tmp2'], 'OK\n');
  await ok(['EXISTS', 'tmp', 'tmp2'], '1\n');
  await ok(['DEL', 'tmp2', 'greeting'], '2\n');
  await ok(['DBSIZE'], '1\n');
  await ok(['--no-raw', 'RCACHE.INVALIDATE', 'count*'], '(integer) 1\n');
  await ok(['DBSIZE'], '0\n');
});

test('errors as redis-cli shows them', async () => {
  let r = await cli(srv.port, ['--no-raw', 'NOSUCHCMD', 'x']);
  assert.equal(r.stdout, "(error) ERR unknown command 'NOSUCHCMD', with args beginning with: 'x' \n");
  r = await cli(srv.port, ['--no-raw', 'GET']);
  assert.equal(r.stdout, "(error) ERR wrong number of arguments for 'get' command\n");
  r = await cli(srv.port, ['--no-raw', 'SET', 'k', 'v', 'EX', '0']);
  assert.equal(r.stdout, "(error) ERR invalid expire time in 'set' command\n");
  r = await cli(srv.port, ['--no-raw', 'SELECT', '16']);
  assert.equal(r.stdout, '(error) ERR DB index is out of range\n');
});

test('commands from stdin, INFO, CONFIG, CLIENT, COMMAND', async () => {
  const r = await cli(srv.port, [], { input: 'SET a 1\nSET b 2\nMGET a b\nDBSIZE\n' });
  assert.equal(r.stdout, 'OK\nOK\n1\n2\n2\n');
  const info = await cli(srv.port, ['INFO', 'keyspace']);
  assert.match(info.stdout, /db0:keys=2,expires=0,avg_ttl=0/);
  const cfg = await cli(srv.port, ['CONFIG', 'GET', 'maxmemory-policy']);
  assert.equal(cfg.stdout, 'maxmemory-policy\nallkeys-lru\n');
  const name = await cli(srv.port, [], { input: 'CLIENT SETNAME cli\nCLIENT GETNAME\n' });
  assert.equal(name.stdout, 'OK\ncli\n');
  const count = await cli(srv.port, ['COMMAND', 'COUNT']);
  assert.ok(Number(count.stdout) > 50);
  const docs = await cli(srv.port, ['COMMAND', 'DOCS', 'get']);
  assert.match(docs.stdout, /summary/);
  const hello = await cli(srv.port, ['-3', 'HELLO', '3']);
  assert.match(hello.stdout, /^server redis\n[^]*\nproto 3\n/);
  const nil = await cli(srv.port, ['-3', 'GET', 'no:such:key']);
  assert.equal(nil.stdout, '\n');
});

test('--scan and --pipe mass insertion of 10k commands', async () => {
  let proto = '';
  for (let i = 0; i < 10000; i++) {
    const k = `pipe:${i}`;
    const v = `value-${i}`;
    proto += `*3\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$${v.length}\r\n${v}\r\n`;
  }
  const r = await cli(srv.port, ['--pipe'], { input: proto });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /errors: 0, replies: 10000/);
  const scan = await cli(srv.port, ['--scan', '--pattern', 'pipe:*']);
  const keys = new Set(scan.stdout.trim().split('\n'));
  assert.equal(keys.size, 10000);
  const g = await cli(srv.port, ['GET', 'pipe:9999']);
  assert.equal(g.stdout, 'value-9999\n');
});

test('requirepass with redis-cli -a and AUTH', async () => {
  const s2 = await startServer(['--requirepass', 'sekret']);
  try {
    let r = await cli(s2.port, ['--no-raw', 'GET', 'x']);
    assert.equal(r.stdout, '(error) NOAUTH Authentication required.\n');
    r = await cli(s2.port, ['-a', 'sekret', '--no-auth-warning', 'SET', 'x', '1']);
    assert.equal(r.stdout, 'OK\n');
    r = await cli(s2.port, ['-a', 'wrong', '--no-auth-warning', '--no-raw', 'GET', 'x']);
    assert.match(r.stdout + r.stderr, /WRONGPASS invalid username-password pair or user is disabled\.|NOAUTH/);
    r = await cli(s2.port, [], { input: 'AUTH sekret\nGET x\n' });
    assert.equal(r.stdout, 'OK\n1\n');
    r = await cli(s2.port, [], { input: 'AUTH default sekret\nGET x\n' });
    assert.equal(r.stdout, 'OK\n1\n');
    r = await cli(s2.port, [], { input: 'HELLO 2 AUTH default sekret\nGET x\n' });
    assert.match(r.stdout, /server\nredis\n[\s\S]*\n1\n$/);
  } finally {
    await s2.stop();
  }
});
