// The admin UI's other paths in Debian's chromium, against a real seeded
// `essp serve` in development mode: cursor paging, reopening an incident
// and its SLA clock, a work order's schedule, deliverables, BOM release and
// rework, bulk moves and the board, stock takes and reorder alerts, a
// shop's staff, reference data filters, a project's phase gate, survey
// rooms and bill of quantities, and an audit diff. Every action is done in
// the page; the API is read afterwards to check that the UI did what it
// says. Started by server/essp/tests/web_admin_ui.rs, which sets:
//   ESSP_URL        the server (development mode, `essp demo seed` data)
//   SCREENSHOT_DIR  where screenshots go
// Exit status 0 means every check passed.

import { DESKTOP, apiClient, check, deadline, need, openPage, runScenarios, screen, shot, step } from './harness.mjs';

const ESSP = need('ESSP_URL');
const TENANT = 'demo-tenant';
const PAGE_SIZE = 50; // the API's default page
const PAGED = 'Paging probe';
deadline('screens', 240);

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

const raw = apiClient(ESSP, TENANT);
let SCHOOL;
/** The API in the school under test. */
const api = (path, opts = {}) => raw(path, { school: SCHOOL, ...opts });

/** Every item of a cursor list. */
async function all(path) {
  const items = [];
  let cursor = '';
  do {
    const page = await api(`${path}${path.includes('?') ? '&' : '?'}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

/** The ids a list's links point at (`#/<kind>/<id>`). */
const linkedIds = (scope, kind) =>
  scope.locator(`a[href^="#/${kind}/"]`).evaluateAll((as) => as.map((a) => a.getAttribute('href').split('/').pop()));

const sameSet = (a, b) => a.length === b.length && [...a].sort().join() === [...b].sort().join();

/** The problem shown for a failed action: the alert's text. */
async function problemText(scope) {
  const alert = scope.locator('[role="alert"]').first();
  await alert.waitFor();
  return alert.textContent();
}

let page;
let detailWo;

await runScenarios('screens', [setUp, incidents, workOrder, bulkAndBoard, stockAndStaff, referenceData, projects]);

// ---------------------------------------------------------------------------

async function setUp(browser) {
  SCHOOL = (await raw('/v1/ssot/schools?limit=1', { school: 'any' })).items[0].id;
  ({ page } = await openPage(browser, DESKTOP, 'screens'));
  await page.goto(`${ESSP}/`);
  await page.selectOption('#school-select', SCHOOL);
  await page.locator('[data-count="open-incidents"]').waitFor();
}

async function incidents() {
  step('incidents: enough of them for a second page (set-up through the API)');
  const devices = (await api(`/v1/ssot/devices?schoolId=${SCHOOL}&limit=100`)).items;
  const made = [];
  for (let i = 0; i < PAGE_SIZE + 5; i += 5) {
    made.push(
      ...(await Promise.all(
        [0, 1, 2, 3, 4].map((k) =>
          api('/v1/incidents', {
            method: 'POST',
            body: { deviceId: devices[(i + k) % devices.length].id, title: `${PAGED} ${i + k}`, description: 'Made to need a second page.', severity: 'low' },
          }),
        ),
      )),
    );
  }
  const wanted = (await all(`/v1/incidents?q=${encodeURIComponent(PAGED)}`)).map((i) => i.id);
  check(wanted.length === PAGE_SIZE + 5, `the API finds the ${PAGE_SIZE + 5} probes (found ${wanted.length})`);

  step('incidents: the first page, then "Load more"');
  await page.goto(`${ESSP}/#/incidents?q=${encodeURIComponent(PAGED)}`);
  const rows = page.locator('.paged table.data tbody tr');
  const more = page.getByRole('button', { name: 'Load more' });
  await more.waitFor();
  check((await rows.count()) === PAGE_SIZE, `the first page holds ${PAGE_SIZE} rows (has ${await rows.count()})`);
  await screen(page, '40-incidents-first-page');
  await more.click();
  await rows.nth(PAGE_SIZE).waitFor();
  await more.waitFor({ state: 'detached' });
  const shown = await linkedIds(page.locator('.paged'), 'incidents');
  check(sameSet(shown, wanted), `both pages together are exactly the API's incidents (${shown.length} shown, ${wanted.length} from the API)`);
  check(new Set(shown).size === shown.length, 'no incident is listed twice across the pages');

  step('incident: reopen a resolved one (the reason is required) and its SLA clock');
  const inc = made[0];
  for (const status of ['acknowledged', 'in_progress', 'resolved']) {
    await api(`/v1/incidents/${inc.id}/status`, { method: 'PATCH', body: { status } });
  }
  await page.goto(`${ESSP}/#/incidents/${inc.id}`);
  await page.locator('[data-status="resolved"]').waitFor();
  const sla = page.locator('dl.props dt:text-is("SLA") + dd');
  check(/^due /.test(await sla.textContent()), `a resolved incident's SLA says when it was due: ${await sla.textContent()}`);
  await page.locator('[data-action="incident-in_progress"]').click();
  const refusal = await problemText(page.locator('section[aria-label="Status"]'));
  check(/reason/i.test(refusal), `reopening without a reason shows the API's problem: ${refusal}`);
  check((await api(`/v1/incidents/${inc.id}`)).status === 'resolved', 'the refused reopen changed nothing');
  const reason = 'The screen flickers again (reopened by the e2e test).';
  await page.getByLabel('Reason', { exact: true }).fill(reason);
  await page.locator('[data-action="incident-in_progress"]').click();
  await page.locator('[data-status="in_progress"]').waitFor();
  const reopened = await api(`/v1/incidents/${inc.id}`);
  check(reopened.status === 'in_progress' && reopened.statusReason === reason, `the API has the incident reopened with the reason: ${reopened.status} / ${reopened.statusReason}`);
  check((await page.locator('dl.props dt:text-is("Last reason") + dd').textContent()) === reason, 'the detail shows the reason');
  const clock = await sla.textContent();
  const overdue = reopened.slaBreached || new Date(reopened.slaDueAt) < new Date();
  check(overdue ? clock.startsWith('overdue by ') : clock.startsWith('due in '), `an open incident's SLA clock counts (${overdue ? 'overdue' : 'due'}): ${clock}`);
  // The deadline as the page's locale and time zone write it.
  const due = await page.evaluate((iso) => new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }), reopened.slaDueAt);
  check(clock.includes(due), `the SLA clock shows the API's deadline ${due}: ${clock}`);
  await screen(page, '41-incident-reopened');

  step('audit log: the before/after diff of an edit');
  await page.getByRole('tab', { name: 'Edit' }).click();
  const newTitle = `${inc.title} (edited)`;
  await page.getByLabel('Title', { exact: true }).fill(newTitle);
  await page.getByRole('button', { name: 'Save changes' }).click();
  await page.getByRole('heading', { name: newTitle }).waitFor();
  check((await api(`/v1/incidents/${inc.id}`)).title === newTitle, 'the API has the new title');
  await page.goto(`${ESSP}/#/audit?entityId=${inc.id}`);
  const edit = page.locator('[data-list="audit"] details.entry').filter({ has: page.locator('table.diff th[scope="row"]:text-is("title")') }).first();
  await edit.locator('summary').click();
  const row = edit.locator('tr', { has: page.locator('th:text-is("title")') });
  check((await row.locator('td.before').textContent()) === inc.title, `the diff shows the title before: ${await row.locator('td.before').textContent()}`);
  check((await row.locator('td.after').textContent()) === newTitle, `the diff shows the title after: ${await row.locator('td.after').textContent()}`);
  const logged = (await api(`/v1/audit-logs?entityId=${inc.id}&limit=100`)).items.find((e) => e.after?.title === newTitle);
  check(logged?.before?.title === inc.title, 'the API logged the same before and after');
  await screen(page, '42-audit-diff');
}

/** `n` assigned work orders with a shop (the demo's and those routed from the probes). */
async function assignedWorkOrders(n) {
  const wos = (await all('/v1/work-orders?status=assigned')).filter((w) => w.serviceShopId);
  check(wos.length >= n, `${n} assigned work orders to work with (found ${wos.length})`);
  return wos.slice(0, n);
}

async function workOrder() {
  [detailWo] = await assignedWorkOrders(1);
  const wo = detailWo;
  const url = `${ESSP}/#/work-orders/${wo.id}`;

  step('work order: schedule a visit');
  await page.goto(url);
  await page.locator('[data-status="assigned"]').waitFor();
  await page.getByRole('tab', { name: 'Schedule' }).click();
  const visits = page.locator('#panel-schedule');
  await visits.getByText('No visit scheduled.').waitFor();
  await visits.getByLabel('Start', { exact: true }).fill('2031-03-04T09:30');
  await visits.getByLabel('End', { exact: true }).fill('2031-03-04T11:00');
  await visits.getByLabel('Notes', { exact: true }).fill('Bring a spare hinge.');
  await visits.getByRole('button', { name: 'Add visit' }).click();
  await visits.locator('table.data').getByText('Bring a spare hinge.').waitFor();
  const scheduled = (await api(`/v1/work-orders/${wo.id}/schedules`)).items;
  check(scheduled.length === 1 && scheduled[0].timezone === 'Africa/Nairobi' && scheduled[0].notes === 'Bring a spare hinge.', `the API has the visit: ${JSON.stringify(scheduled)}`);
  check(new Date(scheduled[0].scheduledStart).getTime() === new Date('2031-03-04T09:30').getTime(), `the visit starts when chosen: ${scheduled[0].scheduledStart}`);
  await screen(page, '43-work-order-schedule');

  step('work order: evidence photo, then deliverables (field error, add, submit, approve, reject)');
  await page.getByRole('tab', { name: 'Attachments' }).click();
  await page.getByLabel('Photo or document').setInputFiles({ name: 'evidence.png', mimeType: 'image/png', buffer: PNG });
  await page.locator('#panel-attachments').getByRole('button', { name: 'Upload' }).click();
  await page.locator('#panel-attachments figure[data-attachment]').waitFor();
  const evidence = (await api(`/v1/attachments?entityType=work_order&entityId=${wo.id}`)).items[0];
  await page.getByRole('tab', { name: 'Deliverables' }).click();
  const tab = page.locator('#panel-deliverables');
  const add = tab.locator('form[data-form="deliverable"]');
  await tab.getByText('No deliverables.').waitFor();
  await add.getByRole('button', { name: 'Add deliverable' }).click();
  await add.locator('[data-field="title"] .field-error').waitFor();
  check((await add.locator('[data-field="title"] .field-error').textContent()).includes('Title'), 'a deliverable without a title: the field shows the API error');
  for (const title of ['Hinge replaced', 'Screen calibrated']) {
    await add.getByLabel('Title', { exact: true }).fill(title);
    await add.getByRole('button', { name: 'Add deliverable' }).click();
    await tab.locator('[data-list="deliverables"] tr', { hasText: title }).waitFor();
  }
  const deliverable = (title) => tab.locator('[data-list="deliverables"] tbody tr', { hasText: title });
  for (const [title, decision, notes] of [['Hinge replaced', 'approved', 'Looks solid.'], ['Screen calibrated', 'rejected', 'Colours still off.']]) {
    const line = deliverable(title);
    check((await line.getByLabel('Evidence', { exact: true }).locator('option').first().textContent()) === 'evidence.png', 'the uploaded photo is offered as evidence');
    await line.getByLabel('Notes', { exact: true }).fill(`Done: ${title}`);
    await line.getByRole('button', { name: 'Submit' }).click();
    await deliverable(title).locator('.badge.submitted').waitFor();
    await deliverable(title).getByLabel('Decision').selectOption(decision);
    await deliverable(title).getByLabel('Review notes').fill(notes);
    await deliverable(title).getByRole('button', { name: 'Record review' }).click();
    await deliverable(title).locator(`.badge.${decision}`).waitFor();
  }
  check((await deliverable('Screen calibrated').getByRole('button', { name: 'Resubmit' }).count()) === 1, 'a rejected deliverable can be resubmitted');
  const saved = Object.fromEntries((await api(`/v1/work-orders/${wo.id}/deliverables`)).items.map((d) => [d.title, d]));
  check(saved['Hinge replaced']?.status === 'approved' && saved['Hinge replaced'].evidenceAttachmentId === evidence.id, `the API has the approved deliverable with its evidence: ${JSON.stringify(saved['Hinge replaced'])}`);
  check(saved['Screen calibrated']?.status === 'rejected' && saved['Screen calibrated'].reviewNotes === 'Colours still off.', `the API has the rejected deliverable with the review notes: ${JSON.stringify(saved['Screen calibrated'])}`);
  await screen(page, '44-work-order-deliverables');

  step('work order: start repair; reserve a part, then release it (the stock returns)');
  await page.getByRole('tab', { name: 'Status', exact: true }).click();
  await page.locator('[data-action="wo-in_repair"]').click();
  await page.locator('[data-status="in_repair"]').waitFor();
  const compat = (await api(`/v1/part-compatibility?deviceModelId=${wo.deviceModelId}&limit=1`)).items;
  check(compat.length > 0, 'the device model has a compatible part');
  const part = compat[0].partId;
  await api('/v1/inventory/upsert', { method: 'POST', body: { serviceShopId: wo.serviceShopId, partId: part, qtyAvailable: 500, reorderThreshold: 1 } });
  const stock = async () => (await api(`/v1/inventory?serviceShopId=${wo.serviceShopId}&partId=${part}`)).items[0];
  const before = await stock();
  await page.getByRole('tab', { name: 'Parts (BOM)' }).click();
  const free = page.locator(`[data-list="suggestions"] [data-free="${part}"]`);
  await free.waitFor();
  check((await free.textContent()) === String(before.qtyAvailable - before.qtyReserved), `the shop's free stock is shown: ${await free.textContent()}`);
  await page.locator('[data-list="suggestions"] tr', { has: page.locator(`[data-free="${part}"]`) }).locator('[data-action="bom-reserve"]').click();
  const release = page.locator('[data-list="bom"] [data-action="bom-release"]');
  await release.waitFor();
  check((await stock()).qtyReserved === before.qtyReserved + 1, 'the API reserved one');
  await release.click();
  await page.locator('[data-list="bom"]').getByText('Released').waitFor();
  const after = await stock();
  check(after.qtyReserved === before.qtyReserved && after.qtyAvailable === before.qtyAvailable, `the release returned the stock: ${JSON.stringify(after)}`);
  await free.filter({ hasText: String(before.qtyAvailable - before.qtyReserved) }).waitFor();
  await screen(page, '45-work-order-bom-released');

  step('work order: send it back (rework) and see the history');
  await page.getByRole('tab', { name: 'Status', exact: true }).click();
  const reject = page.locator('form[data-form="reject"]');
  await reject.getByLabel('Back to').selectOption('assigned');
  await reject.getByRole('button', { name: 'Send back' }).click();
  await reject.locator('[data-field="reason"] .field-error').waitFor();
  await reject.getByLabel('Why (category)').selectOption('wrong_parts');
  await reject.getByLabel('Reason', { exact: true }).fill('Ordered the wrong hinge.');
  await reject.getByRole('button', { name: 'Send back' }).click();
  await page.locator('[data-status="assigned"]').waitFor();
  const reworked = await api(`/v1/work-orders/${wo.id}`);
  check(reworked.status === 'assigned' && reworked.reworkCount === 1, `the API sent it back once: ${reworked.status}, ${reworked.reworkCount}`);
  await page.getByRole('tab', { name: 'Rework history' }).click();
  const history = page.locator('#panel-rework tbody tr');
  await history.first().waitFor();
  const text = await history.first().textContent();
  check((await history.count()) === 1 && text.includes('in repair → assigned') && text.includes('Ordered the wrong hinge.') && text.includes('wrong parts'), `the rework history shows the send-back: ${text}`);
  await screen(page, '46-work-order-rework');
}

async function bulkAndBoard() {
  step('work orders: bulk status move and bulk assignment');
  const others = (await assignedWorkOrders(3)).filter((w) => w.id !== detailWo.id);
  const shop = others[0].serviceShopId;
  const wos = others.filter((w) => w.serviceShopId === shop).slice(0, 2);
  check(wos.length === 2, 'two assigned work orders of one shop');
  const staff = (await api(`/v1/service-staff?serviceShopId=${shop}&active=true&limit=200`)).items;
  check(staff.length > 0, 'the shop has active staff');
  await page.goto(`${ESSP}/#/work-orders?status=assigned`);
  for (const w of wos) await page.locator(`input[data-select="${w.id}"]`).check();
  const bar = page.locator('[aria-label="Bulk actions"]');
  await bar.getByText('2 selected').waitFor();
  await bar.locator('form[data-form="bulk-status"]').getByLabel('New status').selectOption('in_repair');
  await bar.getByRole('button', { name: 'Move selected' }).click();
  const result = bar.locator('[data-result="bulk"]');
  await result.getByText('2 of 2 changed; 0 failed.').waitFor();
  for (const w of wos) check((await api(`/v1/work-orders/${w.id}`)).status === 'in_repair', `bulk move: the API has ${w.id} in repair`);
  await page.goto(`${ESSP}/#/work-orders?status=in_repair`);
  for (const w of wos) await page.locator(`input[data-select="${w.id}"]`).check();
  const technician = staff.find((s) => !wos.every((w) => w.assignedStaffId === s.id)) || staff[0];
  const assign = bar.locator('form[data-form="bulk-assign"]');
  await assign.locator(`[name="assignedStaffId"] option[value="${technician.id}"]`).waitFor({ state: 'attached' });
  await assign.getByLabel('Technician').selectOption(technician.id);
  await assign.getByRole('button', { name: 'Assign selected' }).click();
  await result.getByText('2 of 2 changed; 0 failed.').waitFor();
  for (const w of wos) check((await api(`/v1/work-orders/${w.id}`)).assignedStaffId === technician.id, `bulk assignment: the API has ${w.id} with ${technician.userId}`);
  step('work orders: a bulk assignment naming nobody shows the API problem');
  await page.locator(`input[data-select="${wos[0].id}"]`).check();
  await assign.getByLabel('Technician').selectOption('');
  await assign.getByRole('button', { name: 'Assign selected' }).click();
  const bulkProblem = await problemText(assign);
  check(bulkProblem.includes('assignedStaffId'), `an assignment naming nobody shows the API's problem: ${bulkProblem}`);
  await screen(page, '47-work-orders-bulk');

  step('work orders: the board has every card in its status column');
  await page.goto(`${ESSP}/#/work-orders?view=board`);
  await page.locator('.board section').first().waitFor();
  for (const status of ['assigned', 'in_repair']) {
    const column = page.locator(`.board section[aria-label="${status.replace('_', ' ')}"]`);
    const want = (await all(`/v1/work-orders?status=${status}`)).map((w) => w.id);
    const cards = await linkedIds(column, 'work-orders');
    check(sameSet(cards, want), `board column ${status} holds exactly the API's ${want.length} work orders (shows ${cards.length})`);
  }
  const repairColumn = await linkedIds(page.locator('.board section[aria-label="in repair"]'), 'work-orders');
  check(wos.every((w) => repairColumn.includes(w.id)), 'the bulk-moved work orders are in the in-repair column');
  check((await linkedIds(page.locator('.board section[aria-label="assigned"]'), 'work-orders')).includes(detailWo.id), 'the reworked work order is back in the assigned column');
  await screen(page, '48-work-orders-board');
}

async function stockAndStaff() {
  const shop = detailWo.serviceShopId;
  const part = (await api('/v1/ssot/parts?limit=1&q=')).items[0].id;
  const scope = `serviceShopId=${shop}&partId=${part}`;

  step('inventory: a stock take with a bad quantity shows the API error');
  await page.goto(`${ESSP}/#/inventory?${scope}`);
  const take = page.locator('form[data-form="stock"]');
  await take.getByLabel('On hand').fill('-1');
  await take.getByLabel('Reorder when free stock is at or below').fill('3');
  await take.getByRole('button', { name: 'Set stock' }).click();
  await take.locator('[data-field="qtyAvailable"] .field-error').waitFor();

  step('inventory: stock below its threshold shows as a reorder alert, and leaves it when restocked');
  await take.getByLabel('On hand').fill('2');
  await take.getByRole('button', { name: 'Set stock' }).click();
  const stockRow = page.locator('#panel-stock .paged tbody tr');
  await stockRow.locator('td[data-label="On hand"]', { hasText: /^2$/ }).waitFor();
  const saved = (await api(`/v1/inventory?${scope}`)).items[0];
  check(saved?.qtyAvailable === 2 && saved.reorderThreshold === 3, `the API has the stock take: ${JSON.stringify(saved)}`);
  await page.getByRole('tab', { name: 'Reorder alerts' }).click();
  const alerts = page.locator('#panel-low tbody tr');
  await alerts.first().waitFor();
  check((await alerts.count()) === 1 && (await alerts.first().locator('td[data-label="Free"]').textContent()) === '2', 'the part shows as a reorder alert with its free stock');
  check((await api(`/v1/inventory/low-stock?${scope}`)).items.length === 1, 'the API lists it as low stock');
  await screen(page, '49-inventory-reorder-alert');
  await page.getByRole('tab', { name: 'Stock', exact: true }).click();
  await take.getByLabel('On hand').fill('9');
  await take.getByRole('button', { name: 'Set stock' }).click();
  await stockRow.locator('td[data-label="On hand"]', { hasText: /^9$/ }).waitFor();
  await page.goto(`${ESSP}/#/inventory?view=low&${scope}`);
  await page.locator('#panel-low').getByText('No part is at or below its reorder threshold.').waitFor();
  check((await api(`/v1/inventory/low-stock?${scope}`)).items.length === 0, 'restocked: the API has no alert');
  step('inventory: the ledger shows both stock takes');
  await page.goto(`${ESSP}/#/inventory?view=ledger&${scope}`);
  await page.locator('#panel-ledger tbody tr').nth(1).waitFor();

  step("shops: a shop's staff");
  const shopRow = await api(`/v1/service-shops/${shop}`);
  const staff = await all(`/v1/service-staff?serviceShopId=${shop}`);
  await page.goto(`${ESSP}/#/shops`);
  await page.locator('#panel-shops tr', { hasText: shopRow.name }).getByRole('link', { name: 'Staff' }).click();
  await page.waitForURL(/tab=staff/);
  const staffRows = page.locator('#panel-staff .paged tbody tr');
  await staffRows.first().waitFor();
  const users = await staffRows.locator('td[data-label="User"]').allTextContents();
  check(sameSet(users, staff.map((s) => s.userId)), `the staff list is the shop's staff (${users.join(', ')})`);
  await page.locator('#panel-staff td[data-label="Shop"]', { hasText: shopRow.name }).first().waitFor();
  const shops = await page.locator('#panel-staff td[data-label="Shop"]').allTextContents();
  check(shops.every((s) => s === shopRow.name), `every staff member is at ${shopRow.name}: ${shops.join(', ')}`);
  await screen(page, '50-shop-staff');
}

async function referenceData() {
  step('reference data: schools by county, then sub-county');
  // The county and sub-county of the school under test: both have a school.
  const school = await api(`/v1/ssot/school/${SCHOOL}`);
  const county = { id: school.countyId, name: school.countyName };
  await page.goto(`${ESSP}/#/ssot`);
  const tab = page.locator('#panel-schools');
  await tab.locator('table.data').waitFor();
  await tab.getByLabel('County', { exact: true }).selectOption(county.id);
  await page.waitForURL(/countyId=/);
  const subs = (await api(`/v1/ssot/schools/sub-counties?countyId=${county.id}&limit=200`)).items.filter((s) => s.id === school.subCountyId);
  check(subs.length === 1, `the school's sub-county is offered for ${county.name}`);
  const subSelect = tab.getByLabel('Sub-county', { exact: true });
  await subSelect.locator(`option[value="${subs[0].id}"]`).waitFor({ state: 'attached' });
  const inCounty = await api(`/v1/ssot/schools?countyId=${county.id}&limit=1`);
  await tab.getByText(`${inCounty.total} in all`).waitFor();
  const counties = await tab.locator('td[data-label="County"]').allTextContents();
  check(counties.length > 0 && counties.every((c) => c === county.name), `every school listed is in ${county.name}: ${counties.join(', ')}`);
  await subSelect.selectOption(subs[0].id);
  await tab.getByRole('button', { name: 'Apply filters' }).click();
  await page.waitForURL(/subCountyId=/);
  const inSub = await api(`/v1/ssot/schools?countyId=${county.id}&subCountyId=${subs[0].id}&limit=1`);
  await page.locator('#panel-schools').getByText(`${inSub.total} in all`).waitFor();
  const subNames = await page.locator('#panel-schools td[data-label="Sub-county"]').allTextContents();
  check(subNames.length > 0 && subNames.every((s) => s === subs[0].name), `every school listed is in ${subs[0].name}: ${subNames.join(', ')}`);
  await screen(page, '51-ssot-schools-filtered');

  step('reference data: devices, models and parts show the API data');
  for (const [name, id, path] of [
    ['Devices', 'devices', `/v1/ssot/devices?schoolId=${SCHOOL}&limit=1`],
    ['Device models', 'models', '/v1/ssot/device-models?limit=1'],
    ['Parts', 'parts', '/v1/ssot/parts?limit=1'],
  ]) {
    await page.goto(`${ESSP}/#/ssot?tab=${id}`);
    const panel = page.locator(`#panel-${id}`);
    const total = (await api(path)).total;
    check(total > 0, `the API has ${name.toLowerCase()}`);
    await panel.getByText(`${total} in all`).waitFor();
    check((await panel.locator('tbody tr').count()) === Math.min(total, 50), `${name}: the first page is shown`);
    await shot(page, `52-ssot-${id}`);
  }
  await screen(page, '52-ssot-parts');
}

async function projects() {
  step('projects: a phase with its checklist and gate');
  await api('/v1/checklist-templates', { method: 'POST', body: { phaseType: 'demo', title: 'Demo room booked', required: true } });
  await page.goto(`${ESSP}/#/projects`);
  await page.getByLabel('Type', { exact: true }).selectOption('full_installation');
  await page.getByLabel('Notes', { exact: true }).fill('Rollout (e2e)');
  await page.getByRole('button', { name: 'Start project' }).click();
  await page.waitForURL(/#\/projects\/proj_/);
  const projectId = page.url().split('/').pop();
  await page.getByRole('button', { name: 'Add phase' }).click();
  const phase = page.locator('section[aria-label="demo phase"]');
  await phase.getByText('Gate: 1 required item(s) still open.').waitFor();
  await phase.getByRole('button', { name: 'Mark in progress' }).click();
  await phase.locator('.badge.in_progress').waitFor();
  await page.locator('section[aria-label="demo phase"]').getByRole('button', { name: 'Mark done' }).click();
  const gate = await problemText(page.locator('#panel-phases'));
  check(/checklist|Demo room booked/i.test(gate), `done before the checklist: the API's gate problem is shown: ${gate}`);
  const [saved] = (await api(`/v1/projects/${projectId}/phases`)).items;
  check(saved.status === 'in_progress', 'the refused move changed nothing');
  await shot(page, '53-project-gate-closed');
  await page.locator('section[aria-label="demo phase"]').getByLabel('Demo room booked (required)').check();
  await page.locator('section[aria-label="demo phase"]').getByText('Gate: every required checklist item is done.').waitFor();
  const items = (await api(`/v1/phases/${saved.id}/checklist`)).items;
  check(items.length === 1 && items[0].done === true, 'the API has the item ticked');
  await page.locator('section[aria-label="demo phase"]').getByRole('button', { name: 'Mark done' }).click();
  await page.locator('section[aria-label="demo phase"] .badge.done').waitFor();
  check((await api(`/v1/projects/${projectId}/phases`)).items[0].status === 'done', 'the API has the phase done');
  await screen(page, '53-project-phase-done');

  step('projects: a survey with a room');
  await page.getByRole('tab', { name: 'Surveys' }).click();
  const surveys = page.locator('#panel-surveys');
  await surveys.getByLabel('Summary').fill('Ground floor walk-through');
  await surveys.getByRole('button', { name: 'Start survey' }).click();
  const roomForm = surveys.locator('form[data-form^="room-"]');
  await roomForm.waitFor();
  await roomForm.getByLabel('Room name').fill('Computer lab 1');
  await roomForm.getByLabel('Room type').selectOption('lab');
  await roomForm.getByLabel('Floor', { exact: true }).fill('G');
  await roomForm.getByRole('button', { name: 'Add room' }).click();
  await surveys.locator('[data-rooms] li', { hasText: 'Computer lab 1 · lab · floor G' }).waitFor();
  const [survey] = (await api(`/v1/projects/${projectId}/surveys`)).items;
  const rooms = (await api(`/v1/surveys/${survey.id}`)).rooms;
  check(rooms.length === 1 && rooms[0].name === 'Computer lab 1' && rooms[0].roomType === 'lab', `the API has the room: ${JSON.stringify(rooms)}`);
  await screen(page, '54-project-survey');

  step('projects: the bill of quantities (field error, add a line, approve it)');
  await page.getByRole('tab', { name: 'Bill of quantities' }).click();
  const boq = page.locator('#panel-boq');
  const line = boq.locator('form[data-form="boq"]');
  await line.getByRole('button', { name: 'Add line' }).click();
  await line.locator('[data-field="description"] .field-error').waitFor();
  await line.getByLabel('Description').fill('Cat6 cable');
  await line.getByLabel('Category').selectOption('cabling');
  await line.getByLabel('Quantity').fill('120');
  await line.getByLabel('Unit').fill('m');
  await line.getByLabel('Estimate (cents)').fill('36000');
  await line.getByRole('button', { name: 'Add line' }).click();
  const boqRow = boq.locator('tbody tr', { hasText: 'Cat6 cable' });
  await boqRow.locator('.badge.pending').waitFor();
  await boqRow.getByRole('button', { name: 'Approve' }).click();
  await boq.locator('tbody tr', { hasText: 'Cat6 cable' }).locator('.badge.approved').waitFor();
  const [item] = (await api(`/v1/projects/${projectId}/boq`)).items;
  check(item.approved === true && item.qty === 120 && item.unit === 'm', `the API has the line approved: ${JSON.stringify(item)}`);
  await screen(page, '55-project-boq');
}
