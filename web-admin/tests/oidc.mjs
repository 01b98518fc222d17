// OpenID Connect sign-in of the admin UI in Debian's chromium, driven by
// playwright-core, against a real `essp serve` (auth on) and a real
// provider (npm oidc-provider, server/testkit/oidc/provider.mjs). Started by
// server/essp/tests/web_admin_oidc.rs, which sets:
//   ESSP_URL        the UI (redirect URI = ESSP_URL + '/')
//   OIDC_ISSUER     the provider; OIDC_CLIENT_ID the UI's public client
//   OIDC_USER       a login whose tokens carry OIDC_ROLE, the tenant and SCHOOL_ID
//   DEVICE_SERIAL   a device of SCHOOL_ID without an open incident
//   INCIDENT_TITLE  the title of the incident reported through the UI
//   SCREENSHOT_DIR  where screenshots go
// Exit status 0 means every check passed.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';

const ESSP = need('ESSP_URL');
const ISSUER = need('OIDC_ISSUER');
const CLIENT_ID = need('OIDC_CLIENT_ID');
const USER = need('OIDC_USER');
const ROLE = need('OIDC_ROLE');
const SCHOOL = need('SCHOOL_ID');
const SERIAL = need('DEVICE_SERIAL');
const TITLE = need('INCIDENT_TITLE');
const SHOTS = process.env.SCREENSHOT_DIR || 'screenshots-oidc';
const DESKTOP = { viewport: { width: 1280, height: 900 } };

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v.replace(/\/$/, '');
}

mkdirSync(SHOTS, { recursive: true });
setTimeout(() => {
  console.error('oidc e2e: timed out after 240 s');
  process.exit(3);
}, 240_000).unref();

const failures = [];
const step = (s) => console.log(`-- ${s}`);
function check(ok, what) {
  if (!ok) {
    failures.push(what);
    console.error(`FAIL: ${what}`);
  }
}

const discovery = await (await fetch(`${ISSUER}/.well-known/openid-configuration`)).json();
const TOKEN_ENDPOINT = discovery.token_endpoint;
const REVOCATION_ENDPOINT = discovery.revocation_endpoint;

/** The payload of a JWT. */
const claims = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
const form = (fields) => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields),
});

/** What the UI keeps in sessionStorage. */
async function stored(page) {
  return page.evaluate(() => ({
    token: sessionStorage.getItem('essp.token'),
    oidc: JSON.parse(sessionStorage.getItem('essp.oidc.session') || 'null'),
    pending: sessionStorage.getItem('essp.oidc'),
  }));
}

/** The server's view of a token: the status of GET /v1/me. */
async function meStatus(token) {
  return (await fetch(`${ESSP}/v1/me`, { headers: { Authorization: `Bearer ${token}` } })).status;
}

/**
 * Records what the page sends to the token endpoint (grant type, status,
 * the access token it got) and to the API (path, status, bearer token).
 */
function record(page) {
  const log = { token: [], api: [] };
  page.on('requestfinished', async (req) => {
    const url = req.url();
    if (url === TOKEN_ENDPOINT && req.method() === 'POST') {
      const resp = await req.response();
      const params = new URLSearchParams(req.postData() || '');
      const body = await resp?.json().catch(() => ({}));
      log.token.push({ grant: params.get('grant_type'), params, status: resp?.status(), accessToken: body?.access_token });
    } else if (url.startsWith(`${ESSP}/v1/`)) {
      const resp = await req.response();
      const auth = (await req.allHeaders()).authorization || '';
      log.api.push({ path: new URL(url).pathname, status: resp?.status(), token: auth.replace(/^Bearer /, '') });
    }
  });
  return log;
}

/** Waits for the page to send a token request with this grant type and returns it once answered. */
async function tokenRequest(page, grant) {
  const req = await page.waitForRequest((r) => r.url() === TOKEN_ENDPOINT && r.method() === 'POST' && new URLSearchParams(r.postData() || '').get('grant_type') === grant);
  await req.response();
  return req;
}

async function axe(page, name) {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => ['serious', 'critical'].includes(v.impact));
  for (const v of bad) console.error(`axe ${name}: ${v.impact} ${v.id}: ${v.help}`);
  check(bad.length === 0, `accessibility (${name}): ${bad.map((v) => v.id).join(', ')}`);
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function newPage(label) {
  const ctx = await browser.newContext(DESKTOP);
  // The provider's development login page imports a web font: no internet here.
  await ctx.route(/fonts\.googleapis\.com|fonts\.gstatic\.com/, (r) => r.abort());
  const page = await ctx.newPage();
  lastPage = page;
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (e) => check(false, `${label}: uncaught error in the page: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) check(false, `${label}: CSP violation: ${m.text()}`);
  });
  return { ctx, page };
}

/**
 * From the UI's sign-in screen through the provider and back: signs in and
 * consents when the provider asks (it may not, when it remembers both).
 */
async function signInAtProvider(page, login) {
  const navigated = () => page.waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame() });
  let nav = navigated();
  await page.getByRole('button', { name: 'Sign in with your organisation' }).click();
  await nav;
  while (page.url().startsWith(`${ISSUER}/`)) {
    await page.waitForLoadState('domcontentloaded');
    nav = navigated();
    if (await page.locator('input[name="login"]').count()) {
      await shot(page, '31-provider-login');
      await page.locator('input[name="login"]').fill(login);
      await page.locator('input[name="password"]').fill('any-password');
      await page.getByRole('button', { name: 'Sign-in' }).click();
    } else {
      await page.getByRole('button', { name: 'Continue' }).click();
    }
    await nav;
  }
  check(page.url().startsWith(`${ESSP}/`), `back at the UI: ${page.url()}`);
}

/** The signed-in shell: who, with which role. */
async function signedInAs(page) {
  const who = page.locator('[data-who]');
  await who.waitFor();
  return who.textContent();
}

async function signInScreen(page) {
  await page.getByRole('heading', { name: 'Sign in to ESSP' }).waitFor();
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});

let lastPage;
try {
  await signInRefreshSignOut();
  await refusedSignIns();
} catch (e) {
  failures.push(`unexpected: ${e.stack || e}`);
  console.error(e);
  if (lastPage) {
    console.error(`at ${lastPage.url()}:\n${await lastPage.locator('body').innerText().catch(() => '?')}`);
    await shot(lastPage, '99-failure').catch(() => {});
  }
} finally {
  await browser.close();
}

if (failures.length) {
  console.error(`\n${failures.length} check(s) failed:\n - ${failures.join('\n - ')}`);
  process.exit(1);
}
console.log('oidc e2e: all checks passed');

// ---------------------------------------------------------------------------

async function signInRefreshSignOut() {
  const { ctx, page } = await newPage('oidc');
  const log = record(page);

  step('sign in: authorization code with PKCE (S256) at the provider');
  await page.goto(`${ESSP}/#/incidents`);
  await signInScreen(page);
  await shot(page, '30-sign-in');
  const authorize = page.waitForRequest((r) => r.url().startsWith(discovery.authorization_endpoint));
  const codeExchange = tokenRequest(page, 'authorization_code');
  await signInAtProvider(page, USER);
  const q = new URL((await authorize).url()).searchParams;
  check(q.get('response_type') === 'code' && q.get('client_id') === CLIENT_ID, `authorization request: ${q}`);
  check(q.get('code_challenge_method') === 'S256' && /^[A-Za-z0-9_-]{43}$/.test(q.get('code_challenge') || ''), `PKCE S256 challenge sent: ${q}`);
  check(q.get('redirect_uri') === `${ESSP}/` && (q.get('state') || '').length >= 16, `redirect URI and state: ${q}`);
  const exchange = new URLSearchParams((await codeExchange).postData());
  check((exchange.get('code_verifier') || '').length >= 43 && exchange.get('client_id') === CLIENT_ID, `the code is exchanged with the verifier: ${exchange}`);
  check(!exchange.has('client_secret'), 'a public client sends no secret');

  step('signed in: user and role shown, back where the sign-in started');
  const who = await signedInAs(page);
  check(who.includes(USER) && who.includes(ROLE), `the user and role are shown: ${who}`);
  await page.getByRole('heading', { name: 'Incidents', exact: true }).waitFor();
  check(!page.url().includes('code=') && !page.url().includes('state='), `the code is gone from the address bar: ${page.url()}`);
  const first = await stored(page);
  check(Boolean(first.token && first.oidc?.refreshToken) && !first.pending, 'the access and refresh tokens are kept; the pending request is gone');
  const t1 = claims(first.token);
  check(t1.sub === USER && t1.aud === 'essp-api' && t1.realm_access?.roles?.includes(ROLE), `the access token is the provider's JWT for ${USER}: ${JSON.stringify(t1)}`);
  await page.locator('table.data a[href^="#/incidents/inc_"]').first().waitFor();
  check(log.api.length > 0 && log.api.every((a) => a.token === first.token), 'the API calls carry the provider token');
  await page.waitForLoadState('networkidle');
  await shot(page, '32-signed-in-incidents');
  await axe(page, 'signed-in incidents');

  step('an API-backed action: report an incident');
  await page.locator('[data-action="new-incident"]').click();
  await page.getByLabel('Serial number or asset tag').fill(SERIAL);
  await page.getByRole('button', { name: 'Find device' }).click();
  await page.locator('[data-list="devices"] input[type="radio"]').first().check();
  await page.locator('.alert.ok, [data-warning="duplicate"]').first().waitFor();
  await page.getByLabel('Title', { exact: true }).fill(TITLE);
  await page.getByLabel('Description', { exact: true }).fill('Reported by the OpenID Connect browser test.');
  await page.getByRole('button', { name: 'Report incident' }).click();
  await page.waitForURL(/#\/incidents\/inc_/);
  await page.getByRole('heading', { name: TITLE }).waitFor();

  step('incident detail: a status move (acknowledge)');
  await page.locator('[data-status="new"]').waitFor();
  await page.locator('[data-action="incident-acknowledged"]').click();
  await page.locator('[data-status="acknowledged"]').waitFor();
  check((await page.locator('main [role="alert"]').count()) === 0, 'the move shows no problem');

  step('reporting the same device again warns of its open incident');
  await page.goto(`${ESSP}/#/incidents/new`);
  await page.getByLabel('Serial number or asset tag').fill(SERIAL);
  await page.getByRole('button', { name: 'Find device' }).click();
  await page.locator('[data-list="devices"] input[type="radio"]').first().check();
  const duplicate = page.locator('[data-warning="duplicate"]');
  await duplicate.waitFor();
  check((await duplicate.textContent()).includes(TITLE), `the warning names the open incident: ${await duplicate.textContent()}`);

  step('incidents list: search and status filters');
  await page.goto(`${ESSP}/#/incidents`);
  const filters = page.locator('form[data-form="filters"]');
  await filters.getByLabel('Search title and description').fill(TITLE);
  await filters.getByLabel('Status', { exact: true }).selectOption('acknowledged');
  await filters.getByRole('button', { name: 'Apply filters' }).click();
  await page.waitForURL(/#\/incidents\?.*status=acknowledged/);
  await page.locator('table.data a[href^="#/incidents/inc_"]', { hasText: TITLE }).waitFor();
  await page.waitForLoadState('networkidle');
  const found = await page.locator('table.data a[href^="#/incidents/inc_"]').allTextContents();
  check(found.length === 1 && found[0] === TITLE, `search and status find just the new incident: ${found}`);
  await page.locator('form[data-form="filters"]').getByLabel('Status', { exact: true }).selectOption('new');
  await page.locator('form[data-form="filters"]').getByRole('button', { name: 'Apply filters' }).click();
  await page.waitForURL(/#\/incidents\?.*status=new/);
  await page.locator('main .empty').waitFor();
  check((await page.locator('table.data a[href^="#/incidents/inc_"]').count()) === 0, 'no new incident matches the search');

  step('token expiry: the next call renews with the refresh token first');
  // Wait for the provider's clock-based expiry itself (the token's own exp).
  await page.waitForFunction((exp) => Date.now() > exp * 1000, t1.exp, { polling: 250, timeout: 120_000 });
  // ...and until the server, past its clock-skew leeway, refuses it too.
  const deadline = Date.now() + 90_000;
  while ((await meStatus(first.token)) !== 401) {
    if (Date.now() > deadline) throw new Error('the server still accepts the expired first token');
    await new Promise((r) => setTimeout(r, 500));
  }
  const renewal = tokenRequest(page, 'refresh_token');
  const listed = page.waitForResponse((r) => new URL(r.url()).pathname === '/v1/incidents' && r.request().method() === 'GET');
  await page.locator('a[data-nav="incidents"]').click();
  const renewReq = await renewal;
  const renewParams = new URLSearchParams(renewReq.postData());
  check(renewParams.get('refresh_token') === first.oidc.refreshToken && renewParams.get('client_id') === CLIENT_ID, 'the refresh token is sent by the public client');
  const listResp = await listed;
  const second = await stored(page);
  const usedToken = ((await listResp.request().allHeaders()).authorization || '').replace(/^Bearer /, '');
  check(listResp.status() === 200, `the list after expiry succeeds (${listResp.status()})`);
  check(usedToken && usedToken !== first.token && usedToken === second.token, 'the list after expiry went with the NEW access token');
  check(claims(second.token).exp > t1.exp && claims(second.token).jti !== t1.jti, 'the new token is a new one with a later expiry');
  check(second.oidc.refreshToken !== first.oidc.refreshToken, 'the refresh token was rotated');
  check((renewReq.timing().startTime || 0) <= (listResp.request().timing().startTime || 0), 'renewal came before the call');
  await page.locator('table.data a[href^="#/incidents/inc_"]').first().waitFor();
  check((await page.getByRole('heading', { name: 'Sign in to ESSP' }).count()) === 0, 'still signed in after expiry');
  // (Replaying the old refresh token would end the whole grant at the
  // provider, by design: rotation is checked by its value above instead.)

  step('a token the server rejects early: renew once and send the call again');
  // The token to corrupt must be far from its renewal point, or the page
  // renews it before the call and the 401 path is never taken. Under load
  // the steps above can use most of a 25 s token: then the page renews
  // first (a reload renews a due token before its first call).
  const current = claims((await stored(page)).token);
  if (current.exp * 1000 - Date.now() < 15_000) {
    await page.waitForFunction((exp) => exp * 1000 - Date.now() < 5_000, current.exp, { polling: 250, timeout: 30_000 });
    const renewed = tokenRequest(page, 'refresh_token');
    await page.reload();
    await renewed;
    await page.waitForLoadState('networkidle');
  }
  // As after a key rotation at the provider: the token no longer verifies.
  await page.evaluate(() => {
    const t = sessionStorage.getItem('essp.token');
    sessionStorage.setItem('essp.token', t.slice(0, -6) + (t.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA'));
  });
  const corrupted = (await stored(page)).token;
  const retried = tokenRequest(page, 'refresh_token');
  log.api.length = 0;
  await page.locator('a[data-nav="work-orders"]').click();
  await retried;
  await page.locator('table.data a[href^="#/work-orders/wo_"], .empty').first().waitFor();
  await page.waitForLoadState('networkidle');
  const third = await stored(page);
  const woCalls = log.api.filter((a) => a.path === '/v1/work-orders');
  check(woCalls.some((a) => a.status === 401 && a.token === corrupted), `the rejected call was seen: ${JSON.stringify(woCalls.map((a) => a.status))}`);
  check(woCalls.some((a) => a.status === 200 && a.token === third.token && a.token !== second.token), 'the call was sent again with a new token and succeeded');
  check((await page.locator('main [role="alert"]').count()) === 0, 'no problem shown after the silent renewal');

  step('back after the token ran out: the page renews before its first call');
  await page.evaluate((t) => sessionStorage.setItem('essp.token', t), first.token);
  log.api.length = 0;
  const atBoot = tokenRequest(page, 'refresh_token');
  await page.reload();
  await atBoot;
  check((await signedInAs(page)).includes(USER), 'still signed in after reloading with an expired token');
  await page.locator('table.data a[href^="#/work-orders/wo_"], .empty').first().waitFor();
  await page.waitForLoadState('networkidle');
  const fourth = await stored(page);
  check(fourth.token !== third.token && fourth.token !== first.token, 'a new access token after the reload');
  check(log.api.length > 0 && log.api.every((a) => a.token === fourth.token), 'every call after the reload used the new token');
  check(log.api.some((a) => a.path === '/v1/me' && a.status === 200), 'who-am-I succeeded with it');

  step('a revoked refresh token: the session ends with a clear message');
  const revoked = await fetch(REVOCATION_ENDPOINT, form({ token: fourth.oidc.refreshToken, token_type_hint: 'refresh_token', client_id: CLIENT_ID }));
  check(revoked.status === 200, `the provider revoked the refresh token (${revoked.status})`);
  await page.evaluate(() => {
    const t = sessionStorage.getItem('essp.token');
    sessionStorage.setItem('essp.token', t.slice(0, -6) + (t.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA'));
  });
  const refused = tokenRequest(page, 'refresh_token');
  await page.locator('a[data-nav="incidents"]').click();
  check((await (await refused).response()).status() === 400, 'the provider refused the revoked refresh token');
  await signInScreen(page);
  const ended = page.locator('.signin [role="alert"]');
  await ended.waitFor();
  const message = await ended.textContent();
  check(/session has ended/i.test(message) && /Sign in again/.test(message), `the sign-in screen says why: ${message}`);
  const gone = await stored(page);
  check(!gone.token && !gone.oidc, 'no token is kept after the session ended');
  await shot(page, '33-session-ended');
  await axe(page, 'session ended');

  step('sign in again (the provider remembers the login), then sign out');
  const again = tokenRequest(page, 'authorization_code');
  await signInAtProvider(page, USER);
  await again;
  check((await signedInAs(page)).includes(USER), 'signed in again');
  const before = await stored(page);
  const revocation = page.waitForRequest((r) => r.url() === REVOCATION_ENDPOINT && r.method() === 'POST');
  const reloaded = page.waitForEvent('load');
  await page.locator('[data-action="sign-out"]').click();
  const revokeParams = new URLSearchParams((await revocation).postData());
  await reloaded;
  check(revokeParams.get('token') === before.oidc.refreshToken, 'sign-out revokes the refresh token at the provider');
  await signInScreen(page);
  const after = await stored(page);
  check(!after.token && !after.oidc, 'sign-out forgets every token');
  check((await page.locator('[data-who], nav.mainnav').count()) === 0, 'no navigation or user shown after sign-out');
  const dead = await fetch(TOKEN_ENDPOINT, form({ grant_type: 'refresh_token', refresh_token: before.oidc.refreshToken, client_id: CLIENT_ID }));
  check(dead.status === 400, `the signed-out refresh token no longer works (${dead.status})`);
  await page.reload();
  await signInScreen(page);
  await ctx.close();
}

async function refusedSignIns() {
  const { ctx, page } = await newPage('oidc-refused');
  const log = record(page);

  step('the user cancels at the provider: error=access_denied is shown, no session');
  await page.goto(`${ESSP}/`);
  await signInScreen(page);
  await page.getByRole('button', { name: 'Sign in with your organisation' }).click();
  await page.waitForURL((u) => u.href.startsWith(`${ISSUER}/interaction/`));
  await page.getByRole('link', { name: '[ Cancel ]' }).click();
  await page.waitForURL((u) => u.href.startsWith(`${ESSP}/`));
  await signInScreen(page);
  await page.locator('.signin [role="alert"]').waitFor();
  const denied = await page.locator('.signin [role="alert"]').textContent();
  check(denied.includes('access_denied') && /Sign-in failed/.test(denied), `the refusal is explained: ${denied}`);
  check(!page.url().includes('error='), `the error is gone from the address bar: ${page.url()}`);
  let kept = await stored(page);
  check(!kept.token && !kept.oidc && !kept.pending, 'no session after access_denied');
  await shot(page, '34-access-denied');
  await axe(page, 'access denied');

  step('a callback whose state was tampered with: refused before any token request');
  // The state is changed on its way through the provider, so the real
  // callback carries a real code with a state the UI never issued.
  await page.route(
    (u) => u.href.startsWith(`${discovery.authorization_endpoint}?`),
    async (route) => {
      const u = new URL(route.request().url());
      u.searchParams.set('state', 'forged-state-value');
      await route.continue({ url: u.href });
    },
    { times: 1 },
  );
  await signInAtProvider(page, USER);
  await signInScreen(page);
  await page.locator('.signin [role="alert"]').waitFor();
  const tampered = await page.locator('.signin [role="alert"]').textContent();
  check(/does not match the request \(state\)/.test(tampered), `the state mismatch is explained: ${tampered}`);
  kept = await stored(page);
  check(!kept.token && !kept.oidc && !kept.pending, 'no session after a tampered state');
  check(log.token.every((t) => t.grant !== 'authorization_code'), 'the code was never exchanged');
  check(log.api.every((a) => !a.token), 'no API call with a token');
  await shot(page, '35-state-mismatch');
  await ctx.close();
}
