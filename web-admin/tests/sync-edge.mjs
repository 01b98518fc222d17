// The sync screens of an edge box and of central in Debian's chromium,
// against real `essp serve` processes in development mode. Started by
// server/essp/tests/web_admin_ui.rs, which sets:
//   ESSP_EDGE_URL          an edge (ESSP_MODE=edge) linked to central through NATS, in contact
//   ESSP_LONE_EDGE_URL     an edge with no NATS_URL: it cannot sync
//   ESSP_CENTRAL_URL       central, with the linked edge enrolled
//   ESSP_TENANT            the tenant of both edges
//   ESSP_SCHOOL            the school of the linked edge
//   ESSP_LONE_SCHOOL       the school of the lone edge
//   SCREENSHOT_DIR         where screenshots go
// An edge's page knows its tenant and school from its settings: nothing is
// typed or picked there. Exit status 0 means every check passed.

import { DESKTOP, PHONE, apiClient, check, deadline, need, openPage, runScenarios, screen, step } from './harness.mjs';

const EDGE = need('ESSP_EDGE_URL');
const LONE = need('ESSP_LONE_EDGE_URL');
const CENTRAL = need('ESSP_CENTRAL_URL');
const TENANT = need('ESSP_TENANT');
const SCHOOL = need('ESSP_SCHOOL');
const LONE_SCHOOL = need('ESSP_LONE_SCHOOL');
deadline('sync-edge', 120);

await runScenarios('sync-edge', [loneEdge, linkedEdge, central]);

/**
 * Opens the sync screen of `base`, keeping every API request the page
 * makes; `remembered` is a tenant and school chosen here before (in the
 * page's storage).
 */
async function openSync(browser, base, options, label, remembered) {
  const { ctx, page } = await openPage(browser, options, label);
  if (remembered) {
    await ctx.addInitScript(([tenant, school]) => {
      localStorage.setItem('essp.tenant', tenant);
      localStorage.setItem('essp.school', school);
    }, remembered);
  }
  const calls = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname.startsWith('/v1/')) calls.push(r);
  });
  await page.goto(`${base}/#/sync`);
  return { ctx, page, calls };
}

/** Waits for the sync screen's heading. */
function syncHeading(page) {
  return page.getByRole('heading', { name: 'Sync', exact: true }).waitFor();
}

/**
 * Opens an edge's sync screen as is: the page shows the edge's school and
 * offers no tenant or school to pick.
 */
async function openEdge(browser, base, school, options, label, remembered) {
  const opened = await openSync(browser, base, options, label, remembered);
  const { page } = opened;
  await syncHeading(page);
  const scope = page.locator('.context [data-edge-school]');
  await scope.waitFor({ state: 'attached' });
  check((await scope.getAttribute('data-edge-school')) === school, `${label}: the page shows its school ${school}: ${await scope.getAttribute('data-edge-school')}`);
  check((await scope.getAttribute('data-edge-tenant')) === TENANT, `${label}: and its tenant ${TENANT}`);
  const text = await scope.textContent();
  check(text.includes(school) && text.includes(`tenant ${TENANT}`), `${label}: in words: ${text}`);
  check((await page.locator('.context summary').textContent()).includes(school), `${label}: the context line names the school`);
  check((await page.locator('#tenant-input, #school-select, #school-search').count()) === 0, `${label}: no tenant or school to pick`);
  if (options === PHONE) {
    check(await page.locator('.context summary').isVisible(), `${label}: on a phone the school is on the context line`);
  } else {
    check(await scope.isVisible(), `${label}: the school is shown`);
  }
  return opened;
}

/** Every API call the page made carried the edge's tenant and school. */
async function checkCallsScoped(calls, school, label) {
  check(calls.length > 0, `${label}: the page called the API`);
  for (const r of calls) {
    const headers = await r.allHeaders();
    const got = `${headers['x-tenant-id']} / ${headers['x-school-id']}`;
    check(got === `${TENANT} / ${school}`, `${label}: ${r.method()} ${new URL(r.url()).pathname} carries X-Tenant-ID/X-School-ID ${TENANT} / ${school}: ${got}`);
  }
}

/** Opens central's sync screen and works in the tenant (typed into the context bar, as a user would). */
async function openCentral(browser, options, label) {
  const { ctx, page } = await openSync(browser, CENTRAL, options, label);
  const tenant = page.locator('#tenant-input');
  await tenant.waitFor({ state: 'attached' });
  // On a phone the context may be one line until opened.
  if (!(await tenant.isVisible())) await page.locator('details.context > summary').click();
  await tenant.fill(TENANT);
  await Promise.all([page.waitForEvent('load'), tenant.press('Tab')]);
  await syncHeading(page);
  return { ctx, page };
}

async function loneEdge(browser) {
  step('an edge with no link: its own school (not one remembered from before), the state in words, and "Sync now" shows the API problem');
  const { ctx, page, calls } = await openEdge(browser, LONE, LONE_SCHOOL, PHONE, 'lone edge', ['demo-tenant', 'a-school-chosen-before']);
  const api = apiClient(LONE, TENANT);
  const status = await api('/v1/sync/status');
  check(status.state === 'offline', `the API says the lone edge is offline: ${JSON.stringify(status)}`);
  const state = page.locator('[data-sync="status"] [data-sync-state="offline"]');
  await state.waitFor();
  check((await state.textContent()) === `Offline: ${status.message}`, `the page says offline and why: ${await state.textContent()}`);
  check((await page.locator('[data-count="pending"]').textContent()) === String(status.outboxDepth), 'the page shows the pending changes');
  const answer = await fetch(`${LONE}/v1/sync/now`, { method: 'POST', headers: { 'X-Tenant-ID': TENANT } });
  const problem = await answer.json();
  check(answer.status === 503 && problem.detail, `the API refuses to sync with a problem: ${answer.status} ${JSON.stringify(problem)}`);
  await page.getByRole('button', { name: 'Sync now' }).click();
  const alert = page.locator('.alert-box [role="alert"]');
  await alert.waitFor();
  const text = await alert.textContent();
  check(text.includes(problem.detail) && text.includes('(503)') && text.includes(problem.title), `"Sync now" shows the API's problem: ${text}`);
  check((await page.getByRole('button', { name: 'Sync now' }).isEnabled()), 'the button can be pressed again');
  check(calls.some((r) => r.method() === 'POST' && r.url().endsWith('/v1/sync/now')), 'the page asked the API to sync');
  await checkCallsScoped(calls, LONE_SCHOOL, 'lone edge');
  await screen(page, '60-edge-offline-sync-now-phone');
  await ctx.close();
}

async function linkedEdge(browser) {
  step('an edge in contact with central: its own school, in sync, and "Sync now" reports the new state');
  const { ctx, page, calls } = await openEdge(browser, EDGE, SCHOOL, DESKTOP, 'linked edge');
  const api = apiClient(EDGE, TENANT);
  const state = page.locator('[data-sync="status"] [data-sync-state="ok"]');
  await state.waitFor();
  check((await state.textContent()).startsWith('In sync with central'), `the page says in sync: ${await state.textContent()}`);
  const answered = page.waitForResponse((r) => r.url().endsWith('/v1/sync/now') && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Sync now' }).click();
  const response = await answered;
  check(response.status() === 200, `the API synced: ${response.status()}`);
  const after = await response.json();
  await page.locator('.toast', { hasText: 'Synced with central' }).waitFor();
  await page.locator('[data-sync="status"] [data-sync-state="ok"]').waitFor();
  check((await page.locator('[data-count="pending"]').textContent()) === String(after.outboxDepth), 'the page shows the answer\'s pending changes');
  check((await page.locator('main [role="alert"]').count()) === 0, 'no problem is shown');
  const status = await api('/v1/sync/status');
  check(status.state === 'ok' && status.lastContact, `the API has the edge in contact: ${JSON.stringify(status)}`);
  await checkCallsScoped(calls, SCHOOL, 'linked edge');
  await screen(page, '61-edge-in-sync-desktop');
  await ctx.close();
}

async function central(browser) {
  step('central: the fleet table lists the enrolled edge');
  const { ctx, page } = await openCentral(browser, DESKTOP, 'central');
  const [edge] = (await apiClient(CENTRAL, TENANT)('/v1/sync/edges')).items;
  check(edge?.schoolId === SCHOOL, `the API lists the edge of ${SCHOOL}: ${JSON.stringify(edge)}`);
  const row = page.locator('[data-list="edges"] tbody tr', { has: page.locator(`a[data-edge="${SCHOOL}"]`) });
  await row.waitFor();
  check((await page.locator('[data-list="edges"] tbody tr').count()) === 1, 'one edge is listed');
  check((await row.locator('[data-sync-status]').getAttribute('data-sync-status')) === edge.status, `its status is the API's (${edge.status})`);
  check((await row.locator('td[data-label="App version"]').textContent()) === edge.appVersion, `its app version is the API's (${edge.appVersion})`);
  check((await row.locator('td[data-label="Conflicts"]').textContent()) === String(edge.conflicts), 'its conflict count is the API\'s');
  check(!(await row.locator('td[data-label="Last seen"]').textContent()).includes('never'), 'it has been seen');
  await screen(page, '62-central-fleet-desktop');
  step('central: the edge of one school');
  await row.locator(`a[data-edge="${SCHOOL}"]`).click();
  const detail = page.locator(`[data-edge-detail="${SCHOOL}"] dl.props`);
  await detail.waitFor();
  check((await detail.textContent()).includes(edge.host), `the school's edge shows its host ${edge.host}`);
  await screen(page, '63-central-edge-detail-desktop');
  await ctx.close();
}
