// What every browser test here shares: its environment, the list of failed
// checks, screenshots with an axe-core accessibility check, Debian's
// chromium (never a downloaded browser) and a plain API client for set-up
// and for reading back what the UI did.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';

export const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
export const DESKTOP = { viewport: { width: 1280, height: 900 } };

/** An environment variable the test cannot run without (a trailing slash dropped). */
export function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v.replace(/\/$/, '');
}

const SHOTS = process.env.SCREENSHOT_DIR || 'screenshots';
mkdirSync(SHOTS, { recursive: true });

/** Ends the run with status 3 after `seconds`. */
export function deadline(name, seconds) {
  setTimeout(() => {
    console.error(`${name}: timed out after ${seconds} s`);
    process.exit(3);
  }, seconds * 1000).unref();
}

const failures = [];
export const step = (s) => console.log(`-- ${s}`);
export function check(ok, what) {
  if (!ok) {
    failures.push(what);
    console.error(`FAIL: ${what}`);
  }
  return ok;
}

/** A JSON API client for one server: `call(path, {method, body, school, tenant})`; a failure throws. */
export function apiClient(base, tenant) {
  return async function call(path, { method = 'GET', body, school } = {}) {
    const headers = { 'X-Tenant-ID': tenant, 'Content-Type': 'application/json' };
    if (school) headers['X-School-ID'] = school;
    const r = await fetch(`${base}${path}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
}

/** Axe on the current page: serious and critical violations fail the run. */
export async function axe(page, name) {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => ['serious', 'critical'].includes(v.impact));
  for (const v of bad) {
    console.error(`axe ${name}: ${v.impact} ${v.id}: ${v.help}`);
    for (const n of v.nodes.slice(0, 3)) console.error(`   ${n.target.join(' ')} :: ${n.failureSummary?.split('\n').join(' ')}`);
  }
  check(bad.length === 0, `accessibility (${name}): ${bad.map((v) => v.id).join(', ')}`);
}

export async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Screenshot and accessibility check of a main screen. */
export async function screen(page, name) {
  await page.waitForLoadState('networkidle');
  await shot(page, name);
  await axe(page, name);
}

/** Uncaught errors and CSP violations in the page fail the run. */
export function watch(page, label) {
  page.on('pageerror', (e) => check(false, `${label}: uncaught error in the page: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) check(false, `${label}: CSP violation: ${m.text()}`);
  });
}

/**
 * Launches chromium, runs each scenario in turn and exits: 0 when every
 * check passed, 1 otherwise (an exception counts as a failed check).
 */
export async function runScenarios(name, scenarios) {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    for (const scenario of scenarios) await scenario(browser);
  } catch (e) {
    failures.push(`unexpected: ${e.stack || e}`);
    console.error(e);
  } finally {
    await browser.close();
  }
  if (failures.length) {
    console.error(`\n${failures.length} check(s) failed:\n - ${failures.join('\n - ')}`);
    process.exit(1);
  }
  console.log(`${name}: all checks passed`);
}

/** A new page in its own context, watched, with a 15 s default timeout. */
export async function openPage(browser, options, label) {
  const ctx = await browser.newContext(options);
  const page = await ctx.newPage();
  watch(page, label);
  page.setDefaultTimeout(15_000);
  return { ctx, page };
}
