'use strict';
// io.test.js - rcached's I/O path (issue 16): large values are written
// straight from the cache entry (zero-copy), so a reply still being
// written when its key is deleted, overwritten or evicted carries the old
// value intact; the memory it holds is shown in INFO and released when the
// write completes or the client goes away; it counts in the output buffer
// limit; and a connection's footprint returns to its base after a large
// reply.
//
// No assertion depends on timing: the tests wait for the states they
// check by polling INFO / CLIENT LIST (bounded by a count, not a clock)
// and by reading replies to the end.
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { startServer, sleep, waitFor } = require('./helpers');
const { Conn, command } = require('./resp_conn');

const MIB = 1024 * 1024;


async function info(c, field) {
  const text = await c.str('INFO', 'memory');
  const m = text.match(new RegExp(`^${field}:(\\d+)`, 'm'));
  assert.ok(m, `INFO has ${field}`);
  return Number(m[1]);
}

// Poll until pred(value of field) holds; fails after `tries` polls.
async function waitInfo(c, field, pred, tries = 2000) {
  let v;
  for (let i = 0; i < tries; i++) {
    v = await info(c, field);
    if (pred(v)) return v;
    await sleep(5);
  }
  assert.fail(`INFO ${field} stayed at ${v}`);
}

// A value whose every 4 KiB page differs, so a torn or stale reply shows.
function pattern(size, seed) {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4096) b.fill(0x41 + ((i / 4096 + seed) % 26), i, Math.min(size, i + 4096));
  return b;
}

// A client that sends GET key and does not read: the reply stays in
// flight (the kernel's socket buffers hold a few MiB at most).
async function slowGet(port, key) {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  await new Promise((r) => s.on('connect', r));
  s.pause();
  s.write(command('GET', key));
  return s;
}

// Resume a paused socket and read one bulk reply of `size` bytes.
function readBulk(s, size) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    const hdr = `$${size}\r\n`.length;
    s.on('data', (d) => {
      chunks.push(d);
      n += d.length;
      if (n >= hdr + size + 2) {
        const b = Buffer.concat(chunks);
        resolve({ head: b.toString('latin1', 0, hdr), body: b.subarray(hdr, hdr + size),
          tail: b.toString('latin1', hdr + size) });
      }
    });
    s.on('close', () => reject(new Error(`closed after ${n} bytes`)));
    s.resume();
  });
}

const SIZE = 32 * MIB;

for (const [what, change] of [
  ['deleted', async (c) => assert.equal(await c.cmd('DEL', 'big'), 1)],
  ['overwritten', async (c) => assert.equal(await c.str('SET', 'big', pattern(SIZE, 7)), 'OK')],
  ['evicted', async (c) => {
    assert.equal(await c.str('CONFIG', 'SET', 'maxmemory', '1mb'), 'OK');
    assert.equal(await c.str('SET', 'small', 'x'), 'OK');
    assert.equal(await c.cmd('EXISTS', 'big'), 0);
  }],
]) {
  test(`a large GET in flight when its key is ${what} returns the old value intact`, async () => {
    const srv = await startServer(['--maxmemory', '256mb']);
    try {
      const c = await Conn.open(srv.port);
      const old = pattern(SIZE, 0);
      assert.equal(await c.str('SET', 'big', old), 'OK');
      assert.equal(await info(c, 'zero_copy_refs'), 0);
      const s = await slowGet(srv.port, 'big');
      // the reply is being written from the entry: its bytes are counted
      assert.equal(await waitInfo(c, 'mem_zero_copy_refs', (v) => v > 0), SIZE);
      assert.equal(await info(c, 'zero_copy_refs'), 1);
      await change(c);
      // the entry is gone from the cache but still held by the reply
      assert.equal(await info(c, 'mem_zero_copy_refs'), SIZE);
      const r = await readBulk(s, SIZE);
      assert.equal(r.head, `$${SIZE}\r\n`);
      assert.equal(r.tail, '\r\n');
      assert.ok(r.body.equals(old), 'the reply is the value as it was when GET ran');
      s.destroy();
      await waitInfo(c, 'zero_copy_refs', (v) => v === 0);
      assert.equal(await info(c, 'mem_zero_copy_refs'), 0);
      c.close();
    } finally {
      await srv.stop();
    }
  });
}

test('a client that disconnects with a large reply unsent releases it', async () => {
  const srv = await startServer([]);
  try {
    const c = await Conn.open(srv.port);
    assert.equal(await c.str('SET', 'big', pattern(SIZE, 0)), 'OK');
    const socks = [];
    for (let i = 0; i < 3; i++) socks.push(await slowGet(srv.port, 'big'));
    assert.equal(await waitInfo(c, 'zero_copy_refs', (v) => v === 3), 3);
    assert.equal(await info(c, 'mem_zero_copy_refs'), 3 * SIZE);
    assert.equal(await c.cmd('DEL', 'big'), 1);
    for (const s of socks) s.destroy();
    await waitInfo(c, 'zero_copy_refs', (v) => v === 0);
    assert.equal(await info(c, 'mem_zero_copy_refs'), 0);
    c.close();
  } finally {
    await srv.stop(); // under ASan a reference never released shows as a leak
  }
});

test('a zero-copy reply counts in the client output buffer limit', async () => {
  const srv = await startServer(['--client-output-buffer-limit', '4mb']);
  try {
    const c = await Conn.open(srv.port);
    assert.equal(await c.str('SET', 'big', pattern(8 * MIB, 0)), 'OK');
    // two GETs pipelined by a client that does not read: the first reply
    // (8 MiB from the entry) is pending when the second command comes, so
    // the client is over the 4 MiB limit and closed
    const s = net.connect(srv.port, '127.0.0.1');
    s.on('error', () => {});
    await new Promise((r) => s.on('connect', r));
    s.pause();
    s.write(Buffer.concat([command('GET', 'big'), command('GET', 'big')]));
    await new Promise((r) => s.on('close', r)); // dropped at the limit
    assert.match(srv.log(), /closed for overcoming of output buffer limits/);
    await waitInfo(c, 'zero_copy_refs', (v) => v === 0);
    c.close();
  } finally {
    await srv.stop();
  }
});

// Issue 11: a value that can be stored can always be read. The limit is
// checked before a command runs, so one reply bigger than the limit still
// goes out whole, also to a client that only reads it later.
test('a value bigger than the output limit is still readable', async () => {
  const srv = await startServer(['--client-output-buffer-limit', '4mb']);
  try {
    const c = await Conn.open(srv.port);
    const big = pattern(8 * MIB, 3);
    assert.equal(await c.str('SET', 'big', big), 'OK');
    assert.ok((await c.cmd('GET', 'big')).equals(big), 'GET by a reading client');
    const s = await slowGet(srv.port, 'big');
    // the reply is pending in the server (held from the entry) ...
    await waitInfo(c, 'zero_copy_refs', (v) => v === 1);
    const r = await readBulk(s, 8 * MIB); // ... and arrives whole
    assert.equal(r.head, `$${8 * MIB}\r\n`);
    assert.ok(r.body.equals(big), 'the value read later by a slow client');
    assert.equal(r.tail, '\r\n');
    s.destroy();
    assert.doesNotMatch(srv.log(), /overcoming of output buffer limits/);
    c.close();
  } finally {
    await srv.stop();
  }
});

function clientFields(line) {
  const f = {};
  for (const kv of line.trim().split(' ')) {
    const i = kv.indexOf('=');
    f[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return f;
}

async function footprint(c) {
  const id = await c.cmd('CLIENT', 'ID');
  return clientFields(await c.str('CLIENT', 'LIST', 'ID', String(id)));
}

test('after a 6 MiB reply the connection footprint returns to its base', async () => {
  const srv = await startServer([]);
  try {
    const c = await Conn.open(srv.port);
    const base = await footprint(c);
    // one 6 MiB value (written from the entry) ...
    assert.equal(await c.str('SET', 'big', pattern(6 * MIB, 0)), 'OK');
    assert.equal((await c.cmd('GET', 'big')).length, 6 * MIB);
    // ... and 6 MiB of small copied values in one reply
    const args = ['MSET'];
    for (let i = 0; i < 768; i++) args.push(`k${i}`, pattern(8192, i));
    assert.equal(await c.str(...args), 'OK');
    const keys = args.filter((_, i) => i % 2 === 1);
    const vals = await c.cmd('MGET', ...keys);
    assert.equal(vals.length, 768);
    assert.ok(vals[5].equals(pattern(8192, 5)));
    const after = await footprint(c);
    assert.equal(Number(after.omem), 0, `omem ${after.omem}`);
    assert.ok(Number(after['tot-mem']) <= Number(base['tot-mem']) + 64 * 1024,
      `tot-mem ${base['tot-mem']} -> ${after['tot-mem']}`);
    c.close();
  } finally {
    await srv.stop();
  }
});

// VmSize from /proc: what the process has mapped, touched or not.
function vmSize(pid) {
  const m = require('node:fs').readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmSize:\s+(\d+) kB/);
  return m ? Number(m[1]) * 1024 : 0;
}
function sanitized() {
  try {
    const { BIN } = require('./helpers');
    const syms = require('node:child_process').execFileSync('nm', ['-D', BIN],
      { encoding: 'latin1', maxBuffer: 64 * MIB });
    return /__(a|t)san_init/.test(syms);
  } catch {
    return true;
  }
}

test('a zero-copy reply allocates nothing the size of its value', async (t) => {
  if (sanitized()) {
    t.skip('sanitizer builds map shadow memory: VmSize says nothing here');
    return;
  }
  const srv = await startServer([]);
  try {
    const c = await Conn.open(srv.port);
    assert.equal(await c.str('SET', 'big', pattern(SIZE, 0)), 'OK');
    const before = vmSize(srv.pid);
    const socks = [];
    for (let i = 0; i < 4; i++) socks.push(await slowGet(srv.port, 'big'));
    await waitInfo(c, 'zero_copy_refs', (v) => v === 4);
    const grown = vmSize(srv.pid) - before;
    // Before the fix, the CRLF after each referenced value went into a new
    // evbuffer chain sized like the value (libevent sizes a new chain after
    // the last one): 4 x 32 MiB mapped for 8 bytes.
    assert.ok(grown < SIZE, `VmSize grew by ${grown} bytes for 4 replies in flight`);
    for (const s of socks) s.destroy();
    await waitInfo(c, 'zero_copy_refs', (v) => v === 0);
    c.close();
  } finally {
    await srv.stop();
  }
});

// --io-engine uring where the kernel (or the build) refuses io_uring: the
// server falls back to epoll, says why in one log line, and serves. The
// refusal is simulated (RCACHE_TEST_URING_REFUSE) as this kernel allows it.
test('--io-engine uring falls back to epoll with a log line when io_uring is refused', async () => {
  const srv = await startServer(['--io-engine', 'uring', '--threads', '2'],
    { env: { RCACHE_TEST_URING_REFUSE: '1' } });
  try {
    await waitFor(() => /io-engine uring unavailable \(.+\): using epoll/.test(srv.log()),
      'the fallback log line');
    const c = await Conn.open(srv.port);
    assert.match(await c.str('INFO', 'server'), /^multiplexing_api:epoll\r?$/m);
    assert.equal(await c.str('SET', 'k', pattern(64 * 1024, 3)), 'OK');
    assert.ok((await c.cmd('GET', 'k')).equals(pattern(64 * 1024, 3)));
    c.close();
  } finally {
    await srv.stop();
  }
});

// Without the refusal, --io-engine uring runs io_uring wherever the build
// has it (the log says which engine runs; the *_uring CTest variants run
// every suite on it).
test('--io-engine uring runs io_uring or says why not', async () => {
  const srv = await startServer(['--io-engine', 'uring', '--threads', '2']);
  try {
    const c = await Conn.open(srv.port);
    const api = (await c.str('INFO', 'server')).match(/^multiplexing_api:(\S+)/m)[1];
    if (api === 'io_uring') {
      assert.match(srv.log(), /I\/O engine: io_uring \(2 worker rings\)/);
    } else {
      assert.equal(api, 'epoll');
      assert.match(srv.log(), /io-engine uring unavailable \(.+\): using epoll/);
    }
    assert.equal(await c.str('PING'), 'PONG');
    c.close();
  } finally {
    await srv.stop();
  }
});
