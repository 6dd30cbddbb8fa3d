'use strict';
// helpers.js - shared by the rcached end-to-end tests: start rcached on a
// free loopback port (retrying if another test grabbed it first), wait
// until it answers PING, stop it with SIGTERM and check it exits 0; plus a
// raw socket client for the protocol-level and hostile tests.
//
// No test here may depend on how fast the machine is (CI runs them on two
// cores another job may be using): wait for an event (waitFor, a reply, a
// close, a log line) with a generous deadline, never for a fixed time, and
// never assert a latency. Server-side time is moved with DEBUG CLOCK-* on a
// server started with --enable-debug-command yes (docs/SERVER.md).
const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const BIN = process.env.RCACHED_BIN ||
  path.resolve(__dirname, '../../build/src/server/rcached');
// RCACHED_WRAPPER runs the server under a tool, e.g.
// "valgrind --leak-check=full --error-exitcode=99" (make test-valgrind);
// start-up waits are then stretched by RCACHED_SLOWDOWN (default 10).
const WRAPPER = (process.env.RCACHED_WRAPPER || '').split(/\s+/).filter(Boolean);
const SLOW = WRAPPER.length ? Number(process.env.RCACHED_SLOWDOWN || 10) : 1;

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

// Deadline for anything that should happen "soon": only a broken server
// takes this long, a merely slow or loaded machine does not.
const PATIENCE_MS = 30000 * SLOW;

// Poll cond() (sync or async) until it returns a truthy value, which is
// returned; throws after timeout ms. For waiting on something the server
// does asynchronously (a close noticed, a log line written).
async function waitFor(cond, what, { timeout = PATIENCE_MS, interval = 20 } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(interval);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

// Send bytes, collect what comes back until the socket closes, `until`
// matches, or the timeout passes (a bound for a broken server only: give
// `until` or expect a close).
function raw(port, data, { timeout = PATIENCE_MS, until = null, host = '127.0.0.1', path: sockPath } = {}) {
  return new Promise((resolve) => {
    const sock = sockPath ? net.connect(sockPath) : net.connect(port, host);
    let out = '';
    let closed = false;
    const done = () => {
      if (closed) return;
      closed = true;
      clearTimeout(t);
      sock.destroy();
      resolve({ out, closed: sock.readableEnded || sock.destroyed });
    };
    const t = setTimeout(done, timeout);
    sock.on('connect', () => { if (data) sock.write(data); });
    sock.on('data', (d) => {
      out += d.toString('latin1');
      if (until && until(out)) done();
    });
    sock.on('end', () => { closed = true; clearTimeout(t); resolve({ out, closed: true }); sock.destroy(); });
    sock.on('error', () => { closed = true; clearTimeout(t); resolve({ out, closed: true, error: true }); });
  });
}

async function ping(port, sockPath, { timeout = PATIENCE_MS } = {}) {
  const r = await raw(port, 'PING\r\n', { timeout, until: (o) => o.includes('\r\n'), path: sockPath });
  return r.out.startsWith('+PONG') || r.out.startsWith('-NOAUTH');
}

// CTest's *_uring variants run every suite with RCACHED_IO_ENGINE=uring
// and RCACHE_EXPECT_ENGINE=io_uring: make sure the server really runs that
// engine (INFO's multiplexing_api), so the variant cannot pass on epoll.
// Skipped where a test picks its engine itself or the server wants AUTH.
async function checkEngine(port, sockPath, argv, env) {
  const want = process.env.RCACHE_EXPECT_ENGINE;
  if (!want || argv.includes('--io-engine') || env.RCACHED_IO_ENGINE || env.RCACHE_TEST_URING_REFUSE) return;
  const r = await raw(port, 'INFO server\r\n', { until: (o) => /\r\n\r\n$|^-/.test(o) && o.includes('\r\n'), path: sockPath });
  const m = r.out.match(/multiplexing_api:(\S+)/);
  if (m && m[1] !== want) throw new Error(`RCACHE_EXPECT_ENGINE=${want} but the server runs ${m[1]}`);
}

async function startServer(args = [], { env = {}, noPort = false, readyTimeout = 30000 } = {}) {
  let lastLog = '';
  for (let attempt = 0; attempt < 10; attempt++) {
    const port = await freePort();
    const argv = noPort ? [...args] : ['--port', String(port), '--admin-port', '0', ...args];
    const proc = spawn(WRAPPER.length ? WRAPPER[0] : BIN,
      WRAPPER.length ? [...WRAPPER.slice(1), BIN, ...argv] : argv, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let log = '';
    proc.stdout.on('data', (d) => { log += d; });
    proc.stderr.on('data', (d) => { log += d; });
    let exitInfo = null;
    const exited = new Promise((r) => proc.on('exit', (code, signal) => { exitInfo = { code, signal }; r(exitInfo); }));
    const deadline = Date.now() + readyTimeout * SLOW;
    let ready = false;
    const sockIdx = argv.indexOf('--unixsocket');
    const sockPath = noPort && sockIdx >= 0 ? argv[sockIdx + 1] : undefined;
    while (Date.now() < deadline && !exitInfo) {
      if (await ping(port, sockPath)) { ready = true; break; }
      await sleep(25);
    }
    if (ready) {
      try {
        await checkEngine(port, sockPath, argv, env);
      } catch (e) {
        proc.kill('SIGKILL');
        await exited;
        throw e;
      }
      const srv = {
        port, proc, pid: proc.pid, exited,
        log: () => log,
        exitInfo: () => exitInfo,
        rss: () => rssOf(proc.pid),
        async stop({ expectCode = 0 } = {}) {
          if (exitInfo) return exitInfo;
          proc.kill('SIGTERM');
          let timer;
          const r = await Promise.race([exited,
            new Promise((res) => { timer = setTimeout(() => res(null), PATIENCE_MS); })]);
          clearTimeout(timer);
          if (!r) {
            proc.kill('SIGKILL');
            await exited;
            throw new Error(`rcached did not exit within ${PATIENCE_MS} ms of SIGTERM\n` + log);
          }
          if (expectCode !== null && r.code !== expectCode) {
            throw new Error(`rcached exited with ${JSON.stringify(r)}\n${log}`);
          }
          return r;
        },
      };
      return srv;
    }
    lastLog = log;
    if (!exitInfo) proc.kill('SIGKILL');
    await exited;
    if (!/Address already in use/.test(log)) break;
  }
  throw new Error('rcached did not start:\n' + lastLog);
}

function rssOf(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = s.match(/VmRSS:\s+(\d+) kB/);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

// Run redis-cli; resolves { code, stdout, stderr }.
function cli(port, args, { input, timeout = 2 * PATIENCE_MS } = {}) {
  return new Promise((resolve) => {
    const child = execFile('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args],
      { timeout, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
      });
    if (input !== undefined) {
      child.stdin.end(input);
    }
  });
}

function run(cmd, args, { timeout = 60000 } = {}) {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

const tmpdirs = [];
process.on('exit', () => {
  for (const d of tmpdirs) {
    try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* best effort */ }
  }
});

// A temporary directory removed when the test process exits.
function tmpdir(prefix) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpdirs.push(d);
  return d;
}

module.exports = { BIN, WRAPPER, SLOW, PATIENCE_MS, sleep, waitFor, freePort, raw, ping, startServer, rssOf, cli, run, tmpdir };
