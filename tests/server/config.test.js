'use strict';
// config.test.js - rcached's start-up: --help and --version, invalid
// options and values stop it with a message naming them, the config file
// and environment (precedence flags > file > env), default TTL, the unix
// socket, log format, and clean exits on SIGINT and SHUTDOWN.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const Redis = require('ioredis');
const { BIN, PATIENCE_MS, startServer, raw, run, cli, tmpdir } = require('./helpers');

function runBin(args, env = {}) {
  return new Promise((resolve) => {
    const { execFile } = require('node:child_process');
    execFile(BIN, args, { timeout: PATIENCE_MS, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('--help lists every option with its default; --version', async () => {
  const r = await runBin(['--help']);
  assert.equal(r.code, 0);
  for (const opt of ['--port', '--bind', '--unixsocket', '--threads', '--maxmemory', '--max-items',
    '--default-ttl', '--maxclients', '--timeout', '--requirepass', '--client-query-buffer-limit',
    '--client-output-buffer-limit', '--loglevel', '--config', '--admin-bind', '--admin-port',
    '--admin-token', '--admin-token-file', '--metrics-auth', '--admin-max-body', '--admin-timeout',
    '--enable-debug-command']) {
    assert.ok(r.stdout.includes(opt + ' '), `help lacks ${opt}`);
  }
  assert.match(r.stdout, /--port <n>\s+TCP port .*\(default: 6380\)/);
  assert.match(r.stdout, /--maxmemory <size>.*\(default: 512mb\)/);
  assert.match(r.stdout, /--maxclients <n>.*\(default: 10000\)/);
  const v = await runBin(['--version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^rcached v=\d+\.\d+\.\d+/);
});

test('invalid options and values stop start-up naming them', async () => {
  const cases = [
    [['--bogus', '1'], {}, /--bogus/],
    [['--port', '99999'], {}, /'port'.*99999/],
    [['--maxmemory', 'lots'], {}, /'maxmemory'.*lots/],
    [['--loglevel', 'loud'], {}, /'loglevel'/],
    [['--metrics-auth', 'maybe'], {}, /'metrics-auth'/],
    [['--enable-debug-command', 'local'], {}, /'enable-debug-command'.*local/],
    [['--threads'], {}, /'--threads' needs a value/],
    [['--config', '/nonexistent/x.conf'], {}, /\/nonexistent\/x\.conf/],
    [[], { RCACHED_MAXCLIENTS: 'abc' }, /RCACHED_MAXCLIENTS/],
    [[], { CACHE_MAX_SIZE: 'abc' }, /CACHE_MAX_SIZE/],
    [['--eviction-policy', 'volatile-ttl'], {}, /'maxmemory-policy'.*volatile-ttl.*not supported/],
  ];
  for (const [args, env, re] of cases) {
    const r = await runBin(['--admin-port', '0', ...args], env);
    assert.notEqual(r.code, 0, `${args.join(' ')} should fail`);
    assert.match(r.stderr, re);
  }
  const dir = tmpdir('rcached-conf-');
  const f = path.join(dir, 'bad.conf');
  fs.writeFileSync(f, '# comment\nport 7000\nnosuchoption 1\n');
  const r = await runBin(['--config', f]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /line 3: unknown option 'nosuchoption'/);
});

test('port in use: exit non-zero with the reason', async () => {
  const srv = await startServer([]);
  try {
    const r = await runBin(['--port', String(srv.port), '--admin-port', '0']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Address already in use/);
  } finally {
    await srv.stop();
  }
});

test('config file, environment and flags: flags > file > env', async () => {
  const dir = tmpdir('rcached-conf-');
  const f = path.join(dir, 'rcached.conf');
  fs.writeFileSync(f, [
    '# rcached test config',
    'port 1', // overridden by the flag startServer passes
    'maxmemory 2mb',
    'max-items 7',
    'requirepass ""',
    'loglevel "verbose"',
    'enable-debug-command yes',
    '',
  ].join('\n'));
  const srv = await startServer(['--config', f, '--max-items', '9'],
    { env: { RCACHE_MAX_ITEMS: '5', RCACHE_DEFAULT_TTL_MS: '30000', CACHE_MAX_MEMORY_MB: '100' } });
  const r = new Redis({ port: srv.port, host: '127.0.0.1' });
  try {
    assert.deepEqual(await r.config('GET', 'max-items'), ['max-items', '9']); // flag
    assert.deepEqual(await r.config('GET', 'maxmemory'), ['maxmemory', String(2 << 20)]); // file
    assert.deepEqual(await r.config('GET', 'default-ttl'), ['default-ttl', '30000']); // env
    assert.deepEqual(await r.config('GET', 'loglevel'), ['loglevel', 'verbose']);
    assert.deepEqual(await r.config('GET', 'enable-debug-command'), ['enable-debug-command', 'yes']);
    await r.call('DEBUG', 'CLOCK-FREEZE'); // exact TTLs below
    await r.set('k', 'v');
    assert.equal(await r.pttl('k'), 30000, 'default TTL applied');
    await r.set('k2', 'v', 'EX', 1000);
    assert.equal(await r.ttl('k2'), 1000);
    assert.match(await r.info('server'), new RegExp(`config_file:${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  } finally {
    r.disconnect();
    await srv.stop();
  }
  // environment only, library names
  const s2 = await startServer([], { env: { CACHE_MAX_SIZE: '11', CACHE_TTL_SECONDS: '100',
    RCACHED_ENABLE_DEBUG_COMMAND: 'yes' } });
  const r2 = new Redis({ port: s2.port, host: '127.0.0.1' });
  try {
    assert.deepEqual(await r2.config('GET', 'max-items'), ['max-items', '11']);
    await r2.call('DEBUG', 'CLOCK-FREEZE');
    await r2.set('k', 'v');
    assert.equal(await r2.ttl('k'), 100);
  } finally {
    r2.disconnect();
    await s2.stop();
  }
  // RCACHED_<OPTION> names
  const s3 = await startServer(['--admin-token', 'hush'],
    { env: { RCACHED_MAXCLIENTS: '123', RCACHED_TIMEOUT: '77' } });
  const r3 = new Redis({ port: s3.port, host: '127.0.0.1' });
  try {
    assert.deepEqual(await r3.config('GET', 'maxclients'), ['maxclients', '123']);
    assert.deepEqual(await r3.config('GET', 'timeout'), ['timeout', '77']);
    const everything = await r3.config('GET', '*');
    assert.ok(everything.includes('maxmemory') && everything.includes('admin-port'));
    assert.ok(!everything.includes('admin-token') && !everything.includes('hush'),
      'the admin token is not readable over RESP');
    // no default TTL unless configured
    await r3.set('k', 'v');
    assert.equal(await r3.ttl('k'), -1);
  } finally {
    r3.disconnect();
    await s3.stop();
  }
});

test('unix socket', async () => {
  const dir = tmpdir('rcached-sock-');
  const sock = path.join(dir, 'rcached.sock');
  const srv = await startServer(['--unixsocket', sock, '--unixsocketperm', '700']);
  try {
    const st = fs.statSync(sock);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o700);
    const r = await raw(0, 'SET u 1\r\nGET u\r\n', { path: sock, until: (o) => o.endsWith('$1\r\n1\r\n') });
    assert.equal(r.out, '+OK\r\n$1\r\n1\r\n');
    const c = await run('redis-cli', ['-s', sock, 'GET', 'u']);
    assert.equal(c.stdout, '1\n');
    const ir = new Redis({ path: sock });
    assert.equal(await ir.get('u'), '1');
    const info = await ir.call('CLIENT', 'INFO');
    assert.match(info, /addr=\S+:0 /);
    ir.disconnect();
  } finally {
    await srv.stop();
  }
  assert.ok(!fs.existsSync(sock), 'socket file removed at exit');
});

test('log lines use Redis format; SIGINT and SHUTDOWN exit 0', async () => {
  const srv = await startServer(['--loglevel', 'debug']);
  await cli(srv.port, ['PING']);
  srv.proc.kill('SIGINT');
  const res = await srv.exited;
  assert.equal(res.code, 0);
  const lines = srv.log().trim().split('\n');
  for (const l of lines) {
    assert.match(l, /^\d+:M \d\d \w{3} \d{4} \d\d:\d\d:\d\d\.\d{3} [.\-*#] /, l);
  }
  assert.match(srv.log(), /Received SIGINT/);
  assert.match(srv.log(), / \. Accepted 127\.0\.0\.1:\d+/);

  const s2 = await startServer([]);
  const r = await cli(s2.port, ['SHUTDOWN']);
  assert.ok(r.code === 0 || r.code === 1);
  let timer;
  const res2 = await Promise.race([s2.exited,
    new Promise((res) => { timer = setTimeout(() => res(null), PATIENCE_MS); })]);
  clearTimeout(timer);
  assert.ok(res2, 'exited after SHUTDOWN');
  assert.equal(res2.code, 0);
});
