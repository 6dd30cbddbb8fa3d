'use strict';
// persist.test.js - rcached's snapshots end to end (issue 12): a warm
// restart (fill over RESP, SIGTERM, start again: same DBSIZE, values and
// TTLs), kill -9 during a BGSAVE keeps the previous snapshot loadable, a
// save that hits a file-size limit fails cleanly and keeps the old file, a
// corrupt file is kept aside (or refused with --snapshot-required yes),
// and the commands (SAVE, BGSAVE [SCHEDULE], LASTSAVE, INFO persistence,
// CONFIG SET dir/save). No assertion depends on timing: waits poll INFO.
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const Redis = require('ioredis');
const { startServer, run, sleep, tmpdir, freePort } = require('./helpers');

const connect = (srv) => new Redis({ port: srv.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });

function info(text) {
  const out = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

async function persistence(r) {
  return info(await r.info('persistence'));
}

// Poll until no save runs (bounded by the test timeout, not a clock check).
async function waitSaveDone(r) {
  for (;;) {
    const p = await persistence(r);
    if (p.rdb_bgsave_in_progress === '0') return p;
    await sleep(20);
  }
}

async function fill(r, n, { prefix = 'k', size = 100, ttlEvery = 3, random = false } = {}) {
  for (let i = 0; i < n; i += 1000) {
    const p = r.pipeline();
    for (let j = i; j < Math.min(n, i + 1000); j++) {
      const v = random ? crypto.randomBytes(size) : Buffer.alloc(size, j % 251);
      v.write(String(j));
      if (ttlEvery && j % ttlEvery === 0) p.set(`${prefix}:${j}`, v, 'PX', 100000000);
      else p.set(`${prefix}:${j}`, v);
    }
    await p.exec();
  }
}

test('warm restart: SIGTERM saves, the next start loads the same keys, values and TTLs', async () => {
  const dir = tmpdir('rcached-persist-');
  let srv = await startServer(['--dir', dir, '--save', '']);
  let r = connect(srv);
  await fill(r, 5000);
  await r.set(Buffer.from([0, 1, 2, 255]), Buffer.from([9, 0, 9]));
  await r.set('int', '12345');
  await r.set('empty', '');
  await r.set('long', 'x'.repeat(100000));
  const before = await r.dbsize();
  const ttlBefore = await r.pttl('k:0');
  r.disconnect();
  await srv.stop();
  assert.match(srv.log(), /Shutdown: DB saved on disk \(5004 keys/);
  assert.ok(fs.existsSync(path.join(dir, 'dump.rdb')));

  const check = await run('redis-check-rdb', [path.join(dir, 'dump.rdb')]);
  assert.equal(check.code, 0, check.stdout + check.stderr);

  srv = await startServer(['--dir', dir, '--save', '']);
  r = connect(srv);
  assert.equal(await r.dbsize(), before);
  for (const j of [0, 1, 2, 2999, 4999]) {
    const v = await r.getBuffer(`k:${j}`);
    const want = Buffer.alloc(100, j % 251);
    want.write(String(j));
    assert.deepEqual(v, want);
  }
  assert.deepEqual(await r.getBuffer(Buffer.from([0, 1, 2, 255])), Buffer.from([9, 0, 9]));
  assert.equal(await r.get('int'), '12345');
  assert.equal(await r.get('empty'), '');
  assert.equal((await r.get('long')).length, 100000);
  const ttl = await r.pttl('k:0');
  assert.ok(ttl > 0 && ttl <= ttlBefore, `ttl ${ttl} vs ${ttlBefore}`);
  assert.equal(await r.pttl('k:1'), -1);
  const p = await persistence(r);
  assert.equal(p.rdb_last_load_keys_loaded, String(before));
  assert.equal(p.rdb_last_load_status, 'ok');
  assert.match(srv.log(), /DB loaded from disk: .* 5004 keys loaded/);
  r.disconnect();
  await srv.stop();
});

test('SAVE, BGSAVE, BGSAVE SCHEDULE, LASTSAVE and INFO persistence', async () => {
  const dir = tmpdir('rcached-persist-');
  const srv = await startServer(['--dir', dir, '--save', '', '--snapshot-on-shutdown', 'no']);
  const r = connect(srv);
  const started = await r.lastsave();
  await fill(r, 2000);
  let p = await persistence(r);
  assert.equal(p.rdb_changes_since_last_save, '2000');
  assert.equal(p.rdb_snapshots_enabled, '1');
  assert.equal(await r.save(), 'OK');
  p = await persistence(r);
  assert.equal(p.rdb_changes_since_last_save, '0');
  assert.equal(p.rdb_last_bgsave_status, 'ok');
  assert.equal(p.rdb_saves, '1');
  assert.equal(p.rdb_last_save_keys, '2000');
  assert.ok(Number(p.rdb_last_save_time) >= started);
  assert.ok(Number(await r.lastsave()) >= started);

  const reply = await r.bgsave();
  assert.equal(reply, 'Background saving started');
  // A second one while the first may still run: refused or scheduled.
  const again = await r.call('BGSAVE', 'SCHEDULE');
  assert.match(again, /Background saving (started|scheduled)/);
  p = await waitSaveDone(r);
  await assert.rejects(r.call('BGSAVE', 'NOW'), /syntax/);
  await assert.rejects(r.call('SAVE', 'x'), /wrong number of arguments/);

  // The rules can change at run time; where files go cannot (a client
  // could otherwise write a file anywhere).
  await r.config('SET', 'save', '900 1 300 10');
  assert.deepEqual(await r.config('GET', 'save'), ['save', '900 1 300 10']);
  await r.config('SET', 'save', '');
  assert.deepEqual(await r.config('GET', 'save'), ['save', '']);
  await assert.rejects(r.config('SET', 'save', '10'), /save/);
  await assert.rejects(r.config('SET', 'save', '0 1'), /save/);
  await assert.rejects(r.config('SET', 'dir', '/tmp'), /immutable/);
  await assert.rejects(r.config('SET', 'dbfilename', 'x.rdb'), /immutable/);
  assert.deepEqual(await r.config('GET', 'dir'), ['dir', dir]);
  r.disconnect();
  await srv.stop();
  assert.equal(fs.readdirSync(dir).filter((f) => f.includes('.tmp-')).length, 0);

  const off = await startServer([]);
  const r2 = connect(off);
  await assert.rejects(r2.save(), /no snapshot directory/);
  await assert.rejects(r2.bgsave(), /no snapshot directory/);
  assert.equal((await persistence(r2)).rdb_snapshots_enabled, '0');
  r2.disconnect();
  await off.stop();
});

test('the save rules start a BGSAVE after <seconds> and <changes>', async () => {
  const dir = tmpdir('rcached-persist-');
  const srv = await startServer(['--dir', dir, '--save', '1 10', '--snapshot-on-shutdown', 'no']);
  const r = connect(srv);
  await fill(r, 20);
  for (;;) { // the rule fires within a second or two: poll, never time
    const p = await persistence(r);
    if (p.rdb_saves !== '0' && p.rdb_bgsave_in_progress === '0') break;
    await sleep(50);
  }
  assert.ok(fs.existsSync(path.join(dir, 'dump.rdb')));
  assert.match(srv.log(), /Background saving started/);
  r.disconnect();
  await srv.stop();
});

test('kill -9 during BGSAVE: the previous snapshot still loads', async () => {
  const dir = tmpdir('rcached-persist-');
  let srv = await startServer(['--dir', dir, '--save', '', '--snapshot-on-shutdown', 'no']);
  let r = connect(srv);
  await fill(r, 1000, { prefix: 'old' });
  assert.equal(await r.save(), 'OK');
  await fill(r, 150000, { prefix: 'new', size: 200 });
  assert.equal(await r.bgsave(), 'Background saving started');
  srv.proc.kill('SIGKILL');
  await srv.exited;
  r.disconnect();
  // Whatever the kill left, plus one stale temporary file for certain.
  fs.writeFileSync(path.join(dir, `dump.rdb.tmp-${srv.pid}-99`), 'partial');

  srv = await startServer(['--dir', dir, '--save', '']);
  r = connect(srv);
  const p = await persistence(r);
  assert.equal(p.rdb_last_load_status, 'ok');
  const n = await r.dbsize();
  // The old snapshot, or the new one if the save finished before the kill.
  assert.ok(n === 1000 || n === 151000, `dbsize ${n}`);
  assert.equal(await r.exists('old:999'), 1);
  assert.equal(fs.readdirSync(dir).filter((f) => f.includes('corrupt')).length, 0);
  // A temporary file of the killed save is removed at start-up.
  assert.deepEqual(fs.readdirSync(dir), ['dump.rdb']);
  r.disconnect();
  await srv.stop();
});

test('a save that hits the file-size limit fails cleanly and keeps the old file', async () => {
  const dir = tmpdir('rcached-persist-');
  const srv = await startServer(['--dir', dir, '--save', '', '--snapshot-on-shutdown', 'no']);
  const r = connect(srv);
  await fill(r, 100);
  assert.equal(await r.save(), 'OK');
  const file = path.join(dir, 'dump.rdb');
  const old = fs.readFileSync(file);
  const lim = await run('prlimit', ['--pid', String(srv.pid), '--fsize=200000:200000']);
  assert.equal(lim.code, 0, lim.stderr);
  await fill(r, 500, { prefix: 'big', size: 1000, random: true }); // > 200 kB
  await assert.rejects(r.save(), /write failed|File too large/);
  assert.deepEqual(fs.readFileSync(file), old);
  let p = await persistence(r);
  assert.equal(p.rdb_last_bgsave_status, 'err');
  assert.equal(await r.bgsave(), 'Background saving started');
  p = await waitSaveDone(r);
  assert.equal(p.rdb_last_bgsave_status, 'err');
  assert.deepEqual(fs.readFileSync(file), old);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['dump.rdb']);
  assert.equal(await r.ping(), 'PONG');
  r.disconnect();
  await srv.stop();
  assert.match(srv.log(), /snapshot failed: .*File too large/);
});

test('a corrupt snapshot is kept aside and the server starts empty, or refuses to', async () => {
  const dir = tmpdir('rcached-persist-');
  const file = path.join(dir, 'dump.rdb');
  let srv = await startServer(['--dir', dir, '--save', '']);
  let r = connect(srv);
  await fill(r, 300);
  const blob = crypto.randomBytes(5000); // stored raw: LZF cannot shrink it
  await r.set('blob', blob);
  r.disconnect();
  await srv.stop();
  const good = fs.readFileSync(file);
  const bad = Buffer.from(good);
  const at = good.indexOf(blob);
  assert.ok(at > 0);
  bad[at + 2500] ^= 0x40; // one bit inside a value: only the CRC sees it
  fs.writeFileSync(file, bad);

  const refused = await run(process.env.RCACHED_BIN || require('./helpers').BIN,
    ['--port', '0', '--admin-port', '0', '--dir', dir, '--snapshot-required', 'yes']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr + refused.stdout, /offset \d+: CRC-64 mismatch/);
  assert.deepEqual(fs.readFileSync(file), bad); // left as it was

  srv = await startServer(['--dir', dir, '--save', '', '--snapshot-on-shutdown', 'no']);
  r = connect(srv);
  assert.equal(await r.dbsize(), 0);
  const p = await persistence(r);
  assert.equal(p.rdb_last_load_status, 'err');
  assert.match(srv.log(), /Cannot load the snapshot: .*dump\.rdb: offset \d+: CRC-64 mismatch/);
  const kept = fs.readdirSync(dir).filter((f) => f.startsWith('dump.rdb.corrupt-'));
  assert.equal(kept.length, 1);
  assert.deepEqual(fs.readFileSync(path.join(dir, kept[0])), bad);
  assert.equal(fs.existsSync(file), false);
  r.disconnect();
  await srv.stop();

  // Not an RDB file at all.
  fs.writeFileSync(file, 'hello, world\n');
  srv = await startServer(['--dir', dir, '--save', '', '--snapshot-on-shutdown', 'no']);
  assert.match(srv.log(), /offset 0: not an RDB file/);
  await srv.stop();
});

test('admin API: GET and POST /api/cache/snapshot, snapshot metrics', async () => {
  const dir = tmpdir('rcached-persist-');
  const adminPort = await freePort();
  const srv = await startServer(['--dir', dir, '--save', '', '--snapshot-on-shutdown', 'no',
    '--admin-port', String(adminPort), '--admin-token', 'tok']);
  const r = connect(srv);
  await fill(r, 100);
  const url = `http://127.0.0.1:${adminPort}/api/cache/snapshot`;
  const auth = { Authorization: 'Bearer tok' };
  assert.equal((await fetch(url)).status, 401);
  let res = await fetch(url, { headers: auth });
  assert.equal(res.status, 200);
  let body = await res.json();
  assert.equal(body.enabled, true);
  assert.equal(body.changes_since_save, 100);
  assert.equal(body.last_load.status, 'none');
  res = await fetch(url, { method: 'POST', headers: auth });
  assert.equal(res.status, 202);
  await res.json();
  await waitSaveDone(r);
  body = await (await fetch(url, { headers: auth })).json();
  assert.equal(body.last_save.status, 'ok');
  assert.equal(body.last_save.keys, 100);
  assert.equal(body.last_save.saves, 1);
  assert.ok(body.last_save.bytes > 0);
  const m = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  assert.match(m, /^rcache_snapshot_saves_total 1$/m);
  assert.match(m, /^rcache_snapshot_last_save_keys 100$/m);
  assert.match(m, /^rcache_snapshot_enabled 1$/m);
  r.disconnect();
  await srv.stop();
});

test('DEBUG RELOAD saves, empties and loads; NOSAVE, NOFLUSH; a bad file leaves the cache', async () => {
  const dir = tmpdir('rcached-persist-');
  const file = path.join(dir, 'dump.rdb');
  const srv = await startServer(['--dir', dir, '--save', '', '--snapshot-on-shutdown', 'no',
    '--enable-debug-command', 'yes']);
  const r = connect(srv);
  await fill(r, 3000);
  const ttlBefore = await r.pttl('k:0');
  assert.ok(ttlBefore > 0);
  assert.equal(await r.call('DEBUG', 'RELOAD'), 'OK');
  assert.equal(await r.dbsize(), 3000);
  const want = Buffer.alloc(100, 7 % 251);
  want.write('7');
  assert.deepEqual(await r.getBuffer('k:7'), want);
  const ttlAfter = await r.pttl('k:0');
  assert.ok(ttlAfter > 0 && ttlAfter <= ttlBefore, `${ttlAfter} vs ${ttlBefore}`);
  assert.equal(await r.pttl('k:1'), -1);
  let p = await persistence(r);
  assert.equal(p.rdb_saves, '1');
  assert.equal(p.rdb_last_load_status, 'ok');
  assert.equal(p.rdb_last_load_keys_loaded, '3000');
  assert.equal(p.rdb_changes_since_last_save, '0');
  assert.match(srv.log(), /DEBUG RELOAD: DB loaded from disk: [0-9.]+ seconds, 3000 keys loaded/);

  // NOSAVE: the file on disk comes back, so a key written since is gone
  // (the cache was emptied) and a changed key has its saved value again.
  await r.set('new', 'x');
  await r.set('k:7', 'changed');
  assert.equal(await r.call('DEBUG', 'RELOAD', 'NOSAVE'), 'OK');
  assert.equal(await r.get('new'), null);
  assert.deepEqual(await r.getBuffer('k:7'), want);
  assert.equal(await r.dbsize(), 3000);
  assert.equal((await persistence(r)).rdb_saves, '1');

  // NOFLUSH (and MERGE): keys not in the file stay, keys in it are replaced.
  await r.set('new', 'x');
  await r.set('k:7', 'changed');
  assert.equal(await r.call('DEBUG', 'RELOAD', 'NOSAVE', 'NOFLUSH', 'MERGE'), 'OK');
  assert.equal(await r.get('new'), 'x');
  assert.deepEqual(await r.getBuffer('k:7'), want);
  assert.equal(await r.dbsize(), 3001);

  // A file that fails the check: an error naming the offset, and the cache
  // is left exactly as it was (the check runs before the flush).
  await r.set('k:7', 'changed');
  const bad = fs.readFileSync(file);
  bad[bad.length - 3] ^= 0x10; // inside the CRC-64
  fs.writeFileSync(file, bad);
  await assert.rejects(r.call('DEBUG', 'RELOAD', 'NOSAVE'),
    /Error trying to load the RDB dump: .*dump\.rdb: offset \d+: CRC-64 mismatch/);
  assert.equal(await r.dbsize(), 3001);
  assert.equal(await r.get('k:7'), 'changed');
  assert.equal((await persistence(r)).rdb_last_load_status, 'err');

  // Saving again replaces the bad file; bad arguments are refused.
  assert.equal(await r.call('DEBUG', 'RELOAD'), 'OK');
  assert.equal(await r.get('k:7'), 'changed');
  assert.equal(await r.dbsize(), 3001);
  await assert.rejects(r.call('DEBUG', 'RELOAD', 'SOON'), /syntax/);
  r.disconnect();
  await srv.stop();

  const off = await startServer(['--enable-debug-command', 'yes']);
  const r2 = connect(off);
  await assert.rejects(r2.call('DEBUG', 'RELOAD'), /no snapshot directory/);
  r2.disconnect();
  await off.stop();
});

test('SWAPDB never overlaps a save: refused while a BGSAVE runs, then applied', async () => {
  const dir = tmpdir('rcached-persist-');
  const srv = await startServer(['--dir', dir, '--save', '', '--snapshot-on-shutdown', 'no',
    '--enable-debug-command', 'yes']);
  const r = connect(srv);
  await r.select(1);
  await r.set('one', '1');
  await r.select(0);
  await r.set('zero', '0');
  // Hold the save "in progress" (DEBUG SAVE-HOLD), so the overlap does not
  // depend on how fast the save runs.
  assert.equal(await r.call('DEBUG', 'SAVE-HOLD', '1'), 'OK');
  assert.match(await r.bgsave(), /Background saving started/);
  await assert.rejects(r.swapdb(0, 1), /Background save in progress/);
  assert.equal(await r.get('zero'), '0');
  assert.equal(await r.call('DEBUG', 'SAVE-HOLD', '0'), 'OK');
  await waitSaveDone(r);
  assert.equal(await r.swapdb(0, 1), 'OK');
  assert.equal(await r.get('one'), '1');
  assert.equal(await r.get('zero'), null);
  await assert.rejects(r.call('DEBUG', 'SAVE-HOLD', '2'), /syntax/);
  r.disconnect();
  await srv.stop();
});
