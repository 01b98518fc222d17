// End-to-end test of the admin UI in Debian's chromium, driven by
// playwright-core (never a downloaded browser). Started by
// server/essp/tests/web_admin_ui.rs, which runs two seeded `essp` servers:
//   ESSP_DEV_URL       development mode (no auth): the technician's flow
//   ESSP_AUTH_URL      auth enabled (JWT_SECRET): the viewer's flow
//   ESSP_VIEWER_TOKEN  a token with role essp-viewer for ESSP_AUTH_URL
//   SCREENSHOT_DIR     where screenshots go
// Exit status 0 means every check passed.

import { PHONE, apiClient, check, deadline, need, openPage, runScenarios, screen, shot, step } from './harness.mjs';

const DEV = need('ESSP_DEV_URL');
const AUTH = need('ESSP_AUTH_URL');
const VIEWER_TOKEN = need('ESSP_VIEWER_TOKEN');
const TENANT = 'demo-tenant';
const MAX_FIRST_LOAD = 200 * 1024;
deadline('e2e', 300);

// A 1×1 PNG, as a phone camera would hand over a file.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

/** The API as a script would call it (test set-up only; the UI does the work). */
const devApi = apiClient(DEV, TENANT);

await runScenarios('e2e', [technician, viewer]);

// ---------------------------------------------------------------------------

async function technician(browser) {
  const { ctx, page } = await openPage(browser, PHONE, 'technician');

  // A school of the demo tenant and one of its devices without an open incident.
  const school = (await devApi('/v1/ssot/schools?limit=1', { school: 'any' })).items[0];
  const devices = (await devApi(`/v1/ssot/devices?schoolId=${school.id}&limit=100`, { school: school.id })).items;
  let device;
  for (const d of devices) {
    const open = (await devApi(`/v1/incidents?deviceId=${d.id}&limit=50`, { school: school.id })).items.filter((i) => !['resolved', 'closed'].includes(i.status));
    if (!open.length) {
      device = d;
      break;
    }
  }
  check(Boolean(device), 'a device without an open incident exists');

  step('first load on a phone: overview');
  const bodies = [];
  const counting = (r) => {
    if (['document', 'stylesheet', 'script'].includes(r.request().resourceType())) {
      bodies.push(r.body().then((b) => b.length).catch(() => 0));
    }
  };
  page.on('response', counting);
  await page.goto(`${DEV}/`);
  await page.selectOption('#school-select', school.id);
  await page.locator('[data-count="open-incidents"]').waitFor();
  await page.waitForLoadState('networkidle');
  page.off('response', counting);
  const firstLoad = (await Promise.all(bodies)).reduce((a, b) => a + b, 0);
  console.log(`first load (index + css + js): ${firstLoad} bytes`);
  check(firstLoad > 0 && firstLoad < MAX_FIRST_LOAD, `first load under 200 KB (was ${firstLoad})`);
  await screen(page, '01-overview-phone');
  step('the overview has the edge fleet card (central, no edge enrolled)');
  const edges = page.locator('[data-count="edges"]');
  await edges.waitFor();
  check((await edges.textContent()) === '0', `the fleet card counts no edge (says ${await edges.textContent()})`);
  check((await page.locator('.grid-item [role="alert"]').count()) === 0, 'the overview shows no problem');

  step('the menu opens on a phone');
  check(await page.locator('#mainnav').isHidden(), 'navigation is collapsed on a phone');
  await page.getByRole('button', { name: 'Menu' }).click();
  await page.getByRole('link', { name: 'Incidents', exact: true }).click();
  await page.getByRole('heading', { name: 'Incidents', exact: true }).waitFor();
  await screen(page, '02-incidents-phone');

  step('report an incident: an invalid form shows the API error');
  await page.locator('[data-action="new-incident"]').click();
  await page.getByLabel('Serial number or asset tag').fill(device.serial);
  await page.getByRole('button', { name: 'Find device' }).click();
  await page.locator('[data-list="devices"] input[type="radio"]').first().check();
  await page.locator('.alert.ok, [data-warning="duplicate"]').first().waitFor();
  await page.getByRole('button', { name: 'Report incident' }).click();
  const titleError = page.locator('[data-field="title"] .field-error');
  await titleError.waitFor();
  check((await titleError.textContent()).toLowerCase().includes('title'), 'the title field shows its error');
  check(await page.locator('form[data-form="incident"] [role="alert"]').isVisible(), 'the problem detail is shown above the form');
  await screen(page, '03-incident-new-error-phone');

  step('report it for real');
  await page.getByLabel('Title', { exact: true }).fill('Screen flickers (e2e)');
  await page.getByLabel('Severity', { exact: true }).selectOption('high');
  await page.getByLabel('Description', { exact: true }).fill('Reported from a phone by the end-to-end test.');
  await page.getByRole('button', { name: 'Report incident' }).click();
  await page.waitForURL(/#\/incidents\/inc_/);
  const incidentUrl = page.url();
  await page.getByRole('heading', { name: 'Screen flickers (e2e)' }).waitFor();
  await page.locator('[data-status="new"]').waitFor();

  step('auto-routed to a work order');
  const woLink = page.locator('a[href^="#/work-orders/wo_"]').first();
  await woLink.waitFor();
  const woId = (await woLink.getAttribute('href')).split('/').pop();
  await screen(page, '04-incident-detail-phone');

  step('a photo from the camera input');
  await page.getByRole('tab', { name: 'Attachments' }).click();
  await page.getByLabel('Photo or document').setInputFiles({ name: 'screen.png', mimeType: 'image/png', buffer: PNG });
  await page.getByRole('button', { name: 'Upload' }).click();
  await page.locator('figure[data-attachment] img[src^="blob:"]').waitFor();
  await page.getByRole('tab', { name: 'Audit trail' }).click();
  await page.locator('[data-list="audit"] details.entry').first().waitFor();

  step('work order: start repair');
  await page.goto(`${DEV}/#/work-orders/${woId}`);
  await page.locator('[data-status="assigned"]').waitFor();
  await screen(page, '05-work-order-phone');
  await page.locator('[data-action="wo-in_repair"]').click();
  await page.locator('[data-status="in_repair"]').waitFor();

  step('BOM: reserve a compatible part, then consume it');
  await page.getByRole('tab', { name: 'Parts (BOM)' }).click();
  const suggestions = page.locator('[data-list="suggestions"]');
  await suggestions.locator('table, .empty, p').first().waitFor();
  if ((await suggestions.locator('[data-action="bom-reserve"]').count()) === 0) {
    // The shop has none of the compatible parts: a delivery arrives (set-up through the API).
    const wo = await devApi(`/v1/work-orders/${woId}`, { school: school.id });
    const compat = await devApi(`/v1/part-compatibility?deviceModelId=${wo.deviceModelId}&limit=1`, { school: school.id });
    check(compat.items.length > 0, 'the device model has compatible parts in the catalogue');
    await devApi('/v1/inventory/upsert', { method: 'POST', school: school.id, body: { serviceShopId: wo.serviceShopId, partId: compat.items[0].partId, qtyAvailable: 5, reorderThreshold: 1 } });
    await page.reload();
    await page.getByRole('tab', { name: 'Parts (BOM)' }).click();
  }
  await suggestions.locator('[data-action="bom-reserve"]').first().click();
  await page.locator('[data-list="bom"] [data-action="bom-consume"]').waitFor();
  await page.locator('[data-list="bom"] [data-action="bom-consume"]').click();
  await page.locator('[data-list="bom"]').getByText('All used').waitFor();
  await screen(page, '06-work-order-bom-phone');

  step('complete, request and give the school sign-off');
  await page.getByRole('tab', { name: 'Status', exact: true }).click();
  await page.locator('[data-action="wo-completed"]').click();
  await page.locator('[data-status="completed"]').waitFor();
  await page.getByRole('tab', { name: 'Approvals' }).click();
  await page.getByRole('button', { name: 'Request approval' }).click();
  await page.locator('[data-action="approval-approved"]').click();
  await page.locator('[data-list="approvals"] .badge.approved').waitFor();

  step('bulk approval from the list (desktop width)');
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${DEV}/#/work-orders?status=completed`);
  await page.locator(`input[data-select="${woId}"]`).check();
  const bulk = page.locator('form[data-form="bulk-approval"]');
  await bulk.getByLabel('Decision').selectOption('approved');
  await bulk.getByRole('button', { name: 'Decide selected' }).click();
  const result = page.locator('[data-result="bulk"]');
  await result.waitFor();
  check((await result.textContent()).includes('1 of 1 changed'), `bulk approval succeeded: ${await result.textContent()}`);
  await screen(page, '07-work-orders-desktop');
  await page.goto(`${DEV}/#/work-orders?view=board`);
  await page.locator('.board section').first().waitFor();
  await screen(page, '08-work-orders-board-desktop');

  step('the incident is resolved');
  await page.goto(incidentUrl);
  await page.locator('[data-status="resolved"]').waitFor();
  await screen(page, '09-incident-resolved-desktop');

  step('the other screens');
  await page.goto(`${DEV}/#/inventory`);
  await page.locator('table.data, .empty').first().waitFor();
  await screen(page, '10-inventory');
  await page.goto(`${DEV}/#/ssot`);
  await page.locator('table.data').first().waitFor();
  await screen(page, '11-reference-data');
  step('CSV import: a rejected row is reported with its line');
  await page.getByRole('tab', { name: 'CSV import' }).click();
  await page.getByLabel('What the file holds').selectOption('schools');
  await page.getByLabel('CSV file', { exact: true }).setInputFiles({
    name: 'schools.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from('name,code,countyCode\nGood School,E2E-1,047\nBad School,E2E-2,NO-SUCH-COUNTY\n'),
  });
  await page.getByRole('button', { name: 'Upload and import' }).click();
  const report = page.locator('[data-result="import"]');
  await report.locator('table.data').waitFor();
  check((await report.textContent()).includes('nothing was written'), `the import report says nothing was written: ${await report.textContent()}`);
  await shot(page, '11b-csv-import-report');
  await page.goto(`${DEV}/#/shops`);
  await page.locator('table.data').first().waitFor();
  await screen(page, '12-shops');
  await page.goto(`${DEV}/#/projects`);
  await page.getByRole('heading', { name: 'Projects', exact: true }).waitFor();
  await screen(page, '13-projects');
  await page.goto(`${DEV}/#/audit`);
  await page.locator('[data-list="audit"] details.entry').first().waitFor();
  await page.locator('[data-action="verify"]').click();
  const verdict = page.locator('[data-result="verify"]');
  await verdict.getByText('The chain is intact.').waitFor();
  await screen(page, '14-audit');

  step('sync: reached from the navigation by keyboard; the empty fleet');
  await page.locator('a[data-nav="sync"]').focus();
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Sync', exact: true }).waitFor();
  const fleet = page.locator('[data-list="edges"]');
  await fleet.locator('.empty').waitFor();
  check((await fleet.textContent()).includes('No edge has enrolled yet'), `sync: the empty fleet says so: ${await fleet.textContent()}`);
  check((await page.locator('main [role="alert"]').count()) === 0, 'sync: no problem shown');
  await screen(page, '14b-sync-desktop');
  step('sync: filter the fleet by school');
  await page.getByLabel('School id', { exact: true }).fill(school.id);
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await page.waitForURL(/#\/sync\?schoolId=/);
  await fleet.getByText(`No edge is enrolled for school ${school.id}.`).waitFor();
  step('sync: one school, its conflict log and rejected changes');
  await page.goto(`${DEV}/#/sync/${encodeURIComponent(school.id)}`);
  await page.locator('[data-edge-detail] .empty').waitFor();
  await page.locator('[data-list="conflicts"] .empty').waitFor();
  check((await page.locator('main [role="alert"]').count()) === 0, 'sync school: no problem shown');
  await screen(page, '14c-sync-school-desktop');
  await page.getByRole('tab', { name: 'Rejected changes' }).click();
  await page.locator('[data-list="rejections"] .empty').waitFor();
  await page.setViewportSize(PHONE.viewport);
  await page.goto(`${DEV}/#/`);
  await page.locator('[data-count="open-incidents"]').waitFor();
  await shot(page, '15-overview-after-phone');
  await page.goto(`${DEV}/#/sync`);
  await page.locator('[data-list="edges"] .empty').waitFor();
  await screen(page, '16-sync-phone');
  await ctx.close();
}

async function viewer(browser) {
  const { ctx, page } = await openPage(browser, PHONE, 'viewer');

  step('viewer: sign in with a pasted token');
  await page.goto(`${AUTH}/`);
  await page.getByRole('heading', { name: 'Sign in to ESSP' }).waitFor();
  await screen(page, '20-sign-in-phone');
  await page.getByLabel('Access token').fill(VIEWER_TOKEN);
  await page.getByRole('button', { name: 'Use this token' }).click();
  // On a phone the context is one line ("School: …") until opened.
  await page.locator('details.context > summary').click();
  await page.locator('[data-who]').waitFor();
  check((await page.locator('[data-who]').textContent()).includes('essp-viewer'), 'the viewer role is shown');

  step('viewer: no sync (no sync:read), and the overview still works');
  await page.locator('[data-count="open-incidents"]').waitFor();
  await page.waitForLoadState('networkidle');
  check((await page.locator('a[data-nav="sync"]').count()) === 0, 'viewer: no Sync in the navigation');
  check((await page.locator('[data-count="edges"]').count()) === 0, 'viewer: no edge fleet card');

  step('viewer: incidents have no write actions');
  await page.goto(`${AUTH}/#/incidents`);
  await page.locator('table.data, .empty').first().waitFor();
  check((await page.locator('[data-action="new-incident"]').count()) === 0, 'viewer: no report button');
  const incident = page.locator('a[href^="#/incidents/inc_"]').first();
  check((await incident.count()) > 0, 'viewer: sees the seeded incidents');
  await incident.click();
  await page.locator('[data-status]').first().waitFor();
  await page.waitForLoadState('networkidle');
  check((await page.locator('button[data-action^="incident-"]').count()) === 0, 'viewer: no status buttons');
  check((await page.getByRole('tab', { name: 'Edit' }).count()) === 0, 'viewer: no edit tab');
  await page.getByRole('tab', { name: 'Attachments' }).click();
  await page.waitForLoadState('networkidle');
  check((await page.locator('form[data-form="upload"]').count()) === 0, 'viewer: no upload form');
  await screen(page, '21-viewer-incident-phone');

  step('viewer: work orders have no write actions');
  await page.goto(`${AUTH}/#/work-orders`);
  await page.locator('table.data, .empty').first().waitFor();
  check((await page.locator('input[data-select]').count()) === 0, 'viewer: no bulk selection');
  check((await page.locator('[aria-label="Bulk actions"]').count()) === 0, 'viewer: no bulk actions');
  const wo = page.locator('a[href^="#/work-orders/wo_"]').first();
  await wo.click();
  await page.locator('[data-status]').first().waitFor();
  await page.waitForLoadState('networkidle');
  check((await page.locator('button[data-action^="wo-"]').count()) === 0, 'viewer: no status moves');
  check((await page.locator('form[data-form="reject"], form[data-form="wo-edit"]').count()) === 0, 'viewer: no rework or edit forms');
  await page.getByRole('tab', { name: 'Parts (BOM)' }).click();
  await page.waitForLoadState('networkidle');
  check((await page.locator('[data-action="bom-reserve"], [data-action="bom-consume"], form[data-form="bom-add"]').count()) === 0, 'viewer: no BOM actions');
  await page.getByRole('tab', { name: 'Approvals' }).click();
  await page.waitForLoadState('networkidle');
  check((await page.locator('form[data-form="approval-request"], [data-action^="approval-"]').count()) === 0, 'viewer: no approval actions');
  const forms = await page.locator('form[data-form]').evaluateAll((fs) => fs.map((f) => f.dataset.form).filter((n) => n !== 'filters'));
  check(forms.length === 0, `viewer: no write forms at all (found ${forms.join(', ')})`);
  await screen(page, '22-viewer-work-order-phone');
  await ctx.close();
}
