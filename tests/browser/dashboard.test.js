// dashboard.test.js - the dashboard in a real browser (issue 15): Debian's
// headless chromium driven by playwright-core against a live rcached that
// redis-benchmark keeps busy. Checks: without a token the API calls get 401
// and the page says so; with it the charts fill and change between samples,
// the MRC panel renders with its readout, deleting an entry from the browser
// removes it (EXISTS over RESP), the XSS key is shown as text with no script
// run, invalidating a tag from the browser (after a confirmation; a
// cancelled one removes nothing) removes exactly the keys set with that tag
// over RESP (RCACHE.SET ... TAGS), editing max items takes effect (CONFIG
// GET / DBSIZE over RESP), the tier panel says "No L2 configured" (no
// --l2; tier.test.js covers a live L2), the snapshot panel's "Save now" asks first
// (dismissed: no save) and then saves (INFO persistence over RESP), and the
// panel shows that save.
// Saves a screenshot. Nothing here asserts on elapsed time: every wait is
// for a condition, with a generous deadline for a loaded machine.
// Usage: node dashboard.test.js <admin-url> <token> <redis-cli-port> <screenshot.png>
'use strict';
const { chromium } = require('playwright-core');
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const [url, token, rport, shot] = process.argv.slice(2);
const XSS = '<img src=x onerror=alert(1)>';
const WAIT = 90000;
let failures = 0;
function check(cond, what) {
  if (cond) console.log('ok   ' + what);
  else { failures++; console.log('FAIL ' + what); }
}
function resp(...args) {
  return execFileSync('redis-cli', ['-p', rport, ...args], { encoding: 'utf8' }).trim();
}

(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'rcache-chromium-'));
  // a fresh profile (--user-data-dir) for every run
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 1700 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    const dialogs = [], errors = [], offsite = [], confirms = [];
    let acceptSave = false;
    // Confirmations of a tag invalidation are answered with confirmAnswer
    // and recorded in tagConfirms; those of a save with acceptSave; any
    // other dialog would be a script we did not write (the XSS check),
    // recorded and dismissed.
    let confirmAnswer = false;
    const tagConfirms = [];
    page.on('dialog', (d) => {
      if (d.type() === 'confirm' && /^Remove every key tagged/.test(d.message())) {
        tagConfirms.push(d.message());
        (confirmAnswer ? d.accept() : d.dismiss()).catch(() => {});
        return;
      }
      if (d.type() === 'confirm' && /background save/.test(d.message())) {
        confirms.push(d.message());
        (acceptSave ? d.accept() : d.dismiss()).catch(() => {});
        return;
      }
      dialogs.push(d.message());
      d.dismiss().catch(() => {});
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('request', (r) => { if (!r.url().startsWith(url)) offsite.push(r.url()); });

    // 1. no token: 401, and the page says so
    const statuses = [];
    page.on('response', (r) => { if (r.url().includes('/api/')) statuses.push(r.status()); });
    const res = await page.goto(url + '/dashboard');
    const h = res.headers();
    check(/default-src 'none'/.test(h['content-security-policy'] || '') &&
          /frame-ancestors 'none'/.test(h['content-security-policy']), 'CSP header present');
    check(h['x-content-type-options'] === 'nosniff', 'nosniff header');
    await page.waitForFunction(() => /401/.test(document.getElementById('status').textContent), null, { timeout: WAIT });
    check(statuses.includes(401), 'API calls without a token get 401');
    check(/Unauthorized/.test(await page.textContent('#status')), 'the page says 401 Unauthorized');

    // 2. with the token: charts fill and change between two samples
    await page.fill('#token', token);
    await page.click('#login button[type=submit]');
    check(!page.url().includes(token), 'token not in the URL');
    check(await page.evaluate((t) => sessionStorage.getItem('rcache-admin-token') === t, token),
          'token kept in sessionStorage');
    await page.waitForFunction(() => +(document.getElementById('ch-ops').dataset.points || 0) >= 2, null, { timeout: WAIT });
    const first = await page.evaluate(() => document.getElementById('ch-ops').dataset.last);
    const n1 = await page.evaluate(() => +document.getElementById('ch-ops').dataset.points);
    await page.waitForFunction(([f, n]) => {
      const el = document.getElementById('ch-ops');
      return +el.dataset.points > n && el.dataset.last !== f;
    }, [first, n1], { timeout: WAIT });
    const last = JSON.parse(await page.evaluate(() => document.getElementById('ch-ops').dataset.last));
    check(last.some((v) => v > 0), 'ops chart has non-zero data: ' + JSON.stringify(last));
    check(await page.locator('#ch-ops canvas').count() > 0, 'ops chart drawn (canvas)');
    check(await page.locator('#ch-mem canvas').count() > 0, 'memory chart drawn');
    // no --l2 here: the tier panel says so and lists no figures
    await page.waitForFunction(() => document.getElementById('tier-panel').dataset.state === 'none', null, { timeout: WAIT });
    check(/No L2 configured/.test(await page.textContent('#tier-state')), 'tier panel: "No L2 configured"');
    check(await page.locator('#tier tbody tr').count() === 0, 'tier panel: no figures without an L2');

    // 3. MRC panel
    await page.waitForFunction(() => /At 2× memory/.test(document.getElementById('mrc-readout').textContent), null, { timeout: WAIT });
    check(await page.locator('#ch-mrc canvas').count() > 0, 'MRC chart drawn');
    check(+(await page.getAttribute('#ch-mrc', 'data-points')) > 10, 'MRC has points');

    // 4. delete an entry from the browser
    await page.fill('#match', 'victim:*');
    await page.click('#browse button[type=submit]');
    const row = page.locator('#entries tbody tr', { hasText: 'victim:1' });
    await row.waitFor({ timeout: WAIT });
    check(resp('EXISTS', 'victim:1') === '1', 'victim:1 exists before');
    await row.locator('button.del').click();
    await row.waitFor({ state: 'detached', timeout: WAIT });
    check(resp('EXISTS', 'victim:1') === '0', 'deleting from the browser removes the key (EXISTS 0)');

    // 5. the XSS key is text
    await page.fill('#match', '<img*');
    await page.click('#browse button[type=submit]');
    const xrow = page.locator('#entries tbody tr td.key', { hasText: 'onerror' });
    await xrow.first().waitFor({ timeout: WAIT });
    check(await xrow.first().textContent() === XSS, 'XSS key shown as its text');
    check(await page.locator('main img').count() === 0, 'no <img> element made from a key');
    // the hot-keys table may list it too; give it a refresh
    await page.waitForTimeout(100);
    check(dialogs.length === 0, 'no script ran (no alert): ' + JSON.stringify(dialogs));

    // 6. invalidate a tag: keys set with tags over RESP, the tag shown in
    // the entries browser, a cancelled confirmation removes nothing, an
    // accepted one removes exactly the tagged keys (seen over RESP)
    check(resp('RCACHE.SET', 'tagged:1', 'a', 'TAGS', 'img:42', 'user:7') === 'OK', 'RCACHE.SET tagged:1');
    resp('RCACHE.SET', 'tagged:2', 'b', 'EX', '3600', 'TAGS', 'img:42');
    resp('RCACHE.SET', 'tagged:3', 'c', 'TAGS', 'user:7');
    await page.fill('#match', 'tagged:*');
    await page.click('#browse button[type=submit]');
    const trow = page.locator('#entries tbody tr', { hasText: 'tagged:1' });
    await trow.waitFor({ timeout: WAIT });
    check((await trow.locator('button.tag').allTextContents()).join(',') === 'img:42,user:7',
          'the entries browser lists tagged:1\'s tags');
    await page.fill('#tag', 'img:42');
    confirmAnswer = false;
    await page.click('#invalidate-tag');
    await page.waitForFunction(() => true, null, { timeout: WAIT });
    check(tagConfirms.length === 1 && /"img:42"/.test(tagConfirms[0]), 'a confirmation names the tag');
    check(resp('EXISTS', 'tagged:1', 'tagged:2') === '2', 'cancelled: nothing removed');
    confirmAnswer = true;
    await page.click('#invalidate-tag');
    await page.waitForFunction(() => /Removed 2 entries tagged "img:42"/.test(document.getElementById('browse-msg').textContent), null, { timeout: WAIT });
    check(resp('EXISTS', 'tagged:1', 'tagged:2') === '0', 'accepted: the img:42 keys are gone (EXISTS 0)');
    check(resp('GET', 'tagged:3') === 'c', 'a key without the tag stays');
    // a tag button in a row invalidates that tag
    const t3 = page.locator('#entries tbody tr', { hasText: 'tagged:3' });
    await t3.waitFor({ timeout: WAIT });
    await t3.locator('button.tag', { hasText: 'user:7' }).click();
    await page.waitForFunction(() => /Removed 1 entries tagged "user:7"/.test(document.getElementById('browse-msg').textContent), null, { timeout: WAIT });
    check(resp('EXISTS', 'tagged:3') === '0', 'the row\'s tag button removed tagged:3');
    check(tagConfirms.length === 3, 'each invalidation asked first');

    // 7. edit max items
    await page.fill('#cfg-items', '150');
    await page.click('#config button[type=submit]');
    await page.waitForFunction(() => /Applied/.test(document.getElementById('cfg-msg').textContent), null, { timeout: WAIT });
    const cg = resp('CONFIG', 'GET', 'max-items').split('\n');
    check(cg[1] === '150', 'CONFIG GET max-items = 150 (' + cg.join(' ') + ')');
    const db = +resp('DBSIZE');
    check(db > 0 && db <= 150, 'DBSIZE within the new limit: ' + db);

    // 7. snapshot panel: "Save now" asks first; dismissed, nothing is saved
    const saves = () => +((resp('INFO', 'persistence').match(/rdb_saves:(\d+)/) || [])[1]);
    await page.waitForFunction(() => document.getElementById('snap-panel').dataset.saves === '0', null, { timeout: WAIT });
    check(await page.textContent('#snap tr[data-field=status] td:nth-child(2)') === 'none', 'snapshot panel: no save yet');
    await page.click('#snap-save');
    await page.waitForFunction(() => /cancelled/.test(document.getElementById('snap-msg').textContent), null, { timeout: WAIT });
    check(confirms.length === 1 && saves() === 0, 'dismissed confirmation: no save (rdb_saves 0)');
    // accepted: a background save runs, the server counts it, the panel shows it
    acceptSave = true;
    await page.click('#snap-save');
    await page.waitForFunction(() => document.getElementById('snap-panel').dataset.saves === '1' &&
      document.getElementById('snap-panel').dataset.inProgress === 'false', null, { timeout: WAIT });
    check(confirms.length === 2, 'the button asked for confirmation again');
    check(saves() === 1, 'the save ran (INFO persistence rdb_saves:1)');
    check(await page.textContent('#snap tr[data-field=status] td:nth-child(2)') === 'ok', 'panel: last save ok');
    const keysShown = await page.textContent('#snap tr[data-field=keys] td:nth-child(2)');
    check(keysShown !== '–' && keysShown !== '0', 'panel: keys of the last save: ' + keysShown);
    check(/ B|KiB|MiB/.test(await page.textContent('#snap tr[data-field=size] td:nth-child(2)')), 'panel: size of the last save');
    check(/ s$/.test(await page.textContent('#snap tr[data-field=duration] td:nth-child(2)')), 'panel: duration of the last save');

    await page.screenshot({ path: shot, fullPage: true });
    check(fs.statSync(shot).size > 10000, 'screenshot saved: ' + shot);
    check(errors.filter((e) => /Content Security Policy|Refused/.test(e)).length === 0,
          'no CSP violations: ' + JSON.stringify(errors));
    check(offsite.length === 0, 'no request left the admin origin: ' + JSON.stringify(offsite));
  } catch (e) {
    failures++;
    console.log('FAIL ' + (e && e.stack || e));
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  console.log(failures ? failures + ' failed' : 'all passed');
  process.exit(failures ? 1 : 0);
})();
