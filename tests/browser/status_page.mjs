#!/usr/bin/env node
// Drives the status page of `repowatch serve` in headless Chromium (Debian's
// /usr/bin/chromium, through playwright-core: no downloaded browser), for
// tests/e2e/status_page.rs. Steps, each reported as one JSON line on stdout:
//   1. open /?lang=en, wait for the datasource, remember the builds shown, set
//      a marker on window, screenshot; print {"step":"loaded",...}
//   2. wait for "sent" on stdin (the test has posted a signed webhook), then
//      wait for a new build to appear without a reload (the marker survives);
//   3. the Japanese view (/?lang=ja), screenshot;
//   4. a 375-px-wide phone viewport: the document must not scroll sideways;
//      screenshot; print {"step":"done", problems, ...}.
// Console errors, page errors and failed requests are collected as problems.
//
// Usage: node tests/browser/status_page.mjs BASE_URL SCREENSHOT_DIR
// playwright-core is resolved from $REPOWATCH_NODE_MODULES (default ~/.cache/repowatch/node/node_modules);
// the browser from $REPOWATCH_CHROMIUM (default /usr/bin/chromium).

import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const modulesDir = path.resolve(
  process.env.REPOWATCH_NODE_MODULES || path.join(os.homedir(), '.cache/repowatch/node/node_modules'),
);
const require = createRequire(path.join(modulesDir, 'status-page.cjs'));
const { chromium } = require('playwright-core');

const [base, shots] = process.argv.slice(2);
if (!base || !shots) {
  process.stderr.write('usage: node tests/browser/status_page.mjs BASE_URL SCREENSHOT_DIR\n');
  process.exit(2);
}
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

const browser = await chromium.launch({
  executablePath: process.env.REPOWATCH_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // As root in a sandboxed CI there is no user namespace for Chromium's sandbox; no network beyond 127.0.0.1.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-features=Translate,OptimizationHints,MediaRouter'],
});
const problems = [];
function watch(page, name) {
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`${name} console ${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`${name} page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`${name} request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`${name} ${r.status()}: ${r.url()}`); });
}
try {
  const desk = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  watch(desk, 'desktop');
  await desk.goto(`${base}/?lang=en`, { waitUntil: 'load' });
  await desk.waitForSelector('li.datasource[data-id="api"]', { timeout: 10000 });
  const before = await desk.locator('li.build').count();
  await desk.evaluate(() => { window.__repowatchMarker = 'no reload'; });
  await desk.screenshot({ path: path.join(shots, 'status-en.png'), fullPage: true });
  say({ step: 'loaded', builds: before, title: await desk.title(), lang: await desk.evaluate(() => document.documentElement.lang) });

  const next = await lines.next();
  if (next.done || next.value.trim() !== 'sent') throw new Error(`expected "sent" on stdin, got ${JSON.stringify(next.value)}`);
  const t0 = Date.now();
  await desk.waitForFunction((n) => document.querySelectorAll('li.build').length > n, before, { timeout: 15000 });
  const appearedMs = Date.now() - t0;
  const marker = await desk.evaluate(() => window.__repowatchMarker);
  const builds = await desk.locator('li.build').count();
  const html = await desk.content();
  await desk.screenshot({ path: path.join(shots, 'status-en-after-webhook.png'), fullPage: true });

  await desk.goto(`${base}/?lang=ja`, { waitUntil: 'load' });
  await desk.waitForSelector('li.datasource[data-id="api"]');
  const ja = await desk.evaluate(() => ({ lang: document.documentElement.lang, text: document.body.innerText }));
  await desk.screenshot({ path: path.join(shots, 'status-ja.png'), fullPage: true });

  const phone = await browser.newPage({ viewport: { width: 375, height: 812 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  watch(phone, 'phone');
  await phone.goto(`${base}/?lang=ja`, { waitUntil: 'load' });
  await phone.waitForSelector('li.datasource[data-id="api"]');
  const overflow = await phone.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
    widest: [...document.querySelectorAll('body *')].reduce((w, e) => Math.max(w, e.getBoundingClientRect().right), 0),
  }));
  await phone.screenshot({ path: path.join(shots, 'status-phone-375.png'), fullPage: true });
  say({ step: 'done', problems, appearedMs, marker, builds, jaLang: ja.lang, jaText: ja.text.slice(0, 4000), overflow, htmlLength: html.length, html });
} catch (e) {
  say({ step: 'error', error: String(e && e.stack || e), problems });
  process.exitCode = 1;
} finally {
  await browser.close();
}
