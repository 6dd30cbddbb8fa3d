// tier.test.js - the dashboard's second-tier panel in a real browser
// (issue 15): Debian's headless chromium driven by playwright-core against
// an rcached started with --l2 pointing at a real redis-server (with a
// password, so the test can check that it never reaches the page).
// Checks: the panel shows "connected" with the address minus the password;
// a key written straight into redis-server and read through rcached moves
// the panel's L2 hits (an L1 miss served by L2), reading it again moves the
// L1 hits; a key in neither tier moves the misses; then redis-server is
// killed and the panel shows the disconnected state, the L1 clear with its
// reason and the last error. Every wait is for a condition with a generous
// deadline (no timing assertions).
// Usage: node tier.test.js <admin-url> <token> <rcached-port> <l2-port>
//        <l2-password> <redis-server-pid> <screenshot.png>
'use strict';
const { chromium } = require('playwright-core');
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const [url, token, rport, l2port, l2pass, l2pid, shot] = process.argv.slice(2);
const WAIT = 30000;
let failures = 0;
function check(cond, what) {
  if (cond) console.log('ok   ' + what);
  else { failures++; console.log('FAIL ' + what); }
}
function cli(port, ...args) {
  return execFileSync('redis-cli', ['-p', port, ...args], { encoding: 'utf8' }).trim();
}
const l2 = (...args) => cli(l2port, '--no-auth-warning', '-a', l2pass, ...args);
const rc = (...args) => cli(rport, ...args);

(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'rcache-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 1700 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    // the panel's counter (data-value of its row), or -1 when not shown
    const value = (field) => page.evaluate((f) => {
      const tr = document.querySelector('#tier tr[data-field="' + f + '"]');
      return tr && tr.dataset.value !== undefined ? +tr.dataset.value : -1;
    }, field);
    // wait until the panel shows counter field above min
    const above = (field, min) => page.waitForFunction(([f, m]) => {
      const tr = document.querySelector('#tier tr[data-field="' + f + '"]');
      return tr && +tr.dataset.value > m;
    }, [field, min], { timeout: WAIT });

    await page.goto(url + '/dashboard');
    await page.fill('#token', token);
    await page.click('#login button[type=submit]');

    // 1. connected, address without the password
    await page.waitForFunction(() => document.getElementById('tier-panel').dataset.state === 'connected',
      null, { timeout: WAIT });
    const state = await page.textContent('#tier-state');
    check(/^Connected/.test(state), 'tier panel: connected (' + state + ')');
    check(state.includes('127.0.0.1:' + l2port), 'tier panel: the L2 address is shown');
    check(state.includes(':***@'), 'tier panel: the password is masked');
    check(/No L2 error/.test(await page.textContent('#tier-error')), 'tier panel: no error yet');

    // 2. counts move: L1 miss served by L2, then an L1 hit, then a miss
    const l2h = await value('l2_hits'), l1h = await value('l1_hits'), miss = await value('misses');
    check(l2h >= 0 && l1h >= 0 && miss >= 0, 'tier panel lists hits and misses: ' + [l1h, l2h, miss]);
    check(l2('SET', 'rc:tier:k1', 'from-l2') === 'OK', 'key written straight into the L2');
    check(rc('GET', 'tier:k1') === 'from-l2', 'GET through rcached reads it from the L2');
    await above('l2_hits', l2h);
    check(true, 'panel: L2 hits went up after the GET');
    check(rc('GET', 'tier:k1') === 'from-l2', 'GET again (now in L1)');
    await above('l1_hits', l1h);
    check(true, 'panel: L1 hits went up after the second GET');
    check(rc('GET', 'tier:absent') === '', 'GET of a key in neither tier');
    await above('misses', miss);
    check(true, 'panel: misses went up');
    // another client's write reaches rcached as an invalidation
    const inv = await value('invalidations');
    l2('SET', 'rc:tier:k1', 'changed');
    await above('invalidations', inv);
    check(true, 'panel: invalidations received went up after another client\'s SET');
    // the L1 copy is dropped right after the count: poll for the new value
    let got = '';
    for (const end = Date.now() + WAIT; Date.now() < end && got !== 'changed';) {
      got = rc('GET', 'tier:k1');
      if (got !== 'changed') await page.waitForTimeout(50);
    }
    check(got === 'changed', 'after the invalidation rcached serves the new value');

    // 3. kill the L2: disconnected, L1 cleared with a reason, last error
    const errs = await value('l2_errors');
    process.kill(+l2pid, 'SIGKILL');
    await page.waitForFunction(() => /^(reconnecting|connecting)$/.test(
      document.getElementById('tier-panel').dataset.state), null, { timeout: WAIT });
    check(/^Disconnected/.test(await page.textContent('#tier-state')), 'tier panel: disconnected after the L2 died');
    await above('l2_errors', errs);
    check(true, 'panel: L2 errors went up');
    await page.waitForFunction(() => /Last error/.test(document.getElementById('tier-error').textContent),
      null, { timeout: WAIT });
    check(/connection/.test(await page.textContent('#tier-error')), 'panel: last error names the connection: ' +
      await page.textContent('#tier-error'));
    await page.waitForFunction(() => /lost/.test(
      document.querySelector('#tier tr[data-field="last_l1_clear"]').textContent), null, { timeout: WAIT });
    check(/lost/.test(await page.textContent('#tier tr[data-field="l1_clears"]')),
      'panel: the L1 clear and its reason: ' + await page.textContent('#tier tr[data-field="l1_clears"]'));
    check(rc('GET', 'tier:k1') === '', 'L1 was cleared and L2 is gone: the key is not served (fail-open miss)');

    const html = await page.content();
    check(!html.includes(l2pass), 'the L2 password appears nowhere in the page');
    check(errors.length === 0, 'no page errors: ' + JSON.stringify(errors));
    await page.screenshot({ path: shot, fullPage: true });
    check(fs.statSync(shot).size > 10000, 'screenshot saved: ' + shot);
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
