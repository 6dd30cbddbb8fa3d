// dashboard_page.js - keeps the dashboard open in headless chromium for
// bench/dashboard_cost.sh: opens <admin-url>/dashboard, gives it the token
// through the login form (as a person would), prints "ready" once the page
// says it is connected, and stays open (polling like any open page) until
// its stdin closes. playwright-core comes from NODE_PATH (the browser
// tests' npm ci in the build tree).
// Usage: node dashboard_page.js <admin-url> <token>
'use strict';
const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');

const [url, token] = process.argv.slice(2);
(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'rcache-cost-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 1700 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const done = async (code) => {
    await browser.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
    process.exit(code);
  };
  try {
    const page = await browser.newPage();
    await page.goto(url + '/dashboard');
    await page.fill('#token', token);
    await page.click('#login button[type=submit]');
    await page.waitForFunction(() => /^Connected/.test(document.getElementById('status').textContent),
      null, { timeout: 120000 });
    console.log('ready');
  } catch (e) {
    console.error('dashboard_page: ' + e);
    await done(1);
  }
  process.stdin.on('end', () => done(0));
  process.stdin.resume();
})();
