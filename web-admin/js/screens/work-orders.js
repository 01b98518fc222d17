// Work orders of the selected school: a filtered list with bulk status,
// assignment and approval, or a board by status.

import { api, collect } from '../api.js';
import { WO_STATUSES } from '../enums.js';
import { cursorPages, filterForm, pagedList } from '../list.js';
import { named } from '../names.js';
import { href } from '../router.js';
import { session } from '../session.js';
import { h, mount, badge, compact, dataTable, errorAlert, fmtDate, form, label, loading, options } from '../ui.js';

export const workOrderColumns = [
  { label: 'Work order', value: (w) => h('a', { href: `#/work-orders/${w.id}` }, `${label(w.taskType)} · ${w.deviceSerial || w.deviceId}`) },
  { label: 'Status', value: (w) => badge(w.status) },
  { label: 'Approval', value: (w) => badge(w.approvalStatus) },
  { label: 'Shop', value: (w) => named('shop', w.serviceShopId) },
  { label: 'Technician', value: (w) => named('staff', w.assignedStaffId) },
  { label: 'Rework', value: (w) => String(w.reworkCount) },
  { label: 'Opened', value: (w) => fmtDate(w.createdAt) },
];

export default async function workOrders(view, _params, query) {
  const board = query.view === 'board';
  const switcher = h(
    'p',
    { class: 'actions' },
    h('a', { class: ['button', board ? 'secondary' : ''], href: href('/work-orders', { ...query, view: '' }), 'aria-current': board ? null : 'page' }, 'List'),
    h('a', { class: ['button', board ? '' : 'secondary'], href: href('/work-orders', { ...query, view: 'board' }), 'aria-current': board ? 'page' : null }, 'Board'),
  );
  mount(view, h('div', { class: 'toolbar' }, h('h1', {}, 'Work orders'), switcher));
  if (board) return renderBoard(view);

  const filters = filterForm(
    '/work-orders',
    [
      { name: 'status', label: 'Status', type: 'select', options: options(WO_STATUSES, 'Any status') },
      { name: 'incidentId', label: 'Incident id' },
      { name: 'deviceId', label: 'Device id' },
    ],
    query,
  );
  const bulk = bulkBar(() => list.reload());
  const list = pagedList({
    pages: cursorPages('/v1/work-orders', compact({ status: query.status, incidentId: query.incidentId, deviceId: query.deviceId })),
    columns: workOrderColumns,
    empty: 'No work order matches.',
    select: bulk && {
      label: (w) => `Select work order ${w.deviceSerial || w.id} (${label(w.status)})`,
      onChange: bulk.setSelection,
    },
  });
  view.append(
    h('details', { class: 'panel', open: window.innerWidth >= 700 || Boolean(query.status) }, h('summary', {}, 'Filters'), filters),
    list.el,
    bulk ? bulk.el : null,
  );
  return undefined;
}

async function renderBoard(view) {
  const box = h('div', { class: 'board' }, loading());
  view.append(box);
  try {
    const lists = await Promise.all(WO_STATUSES.map((status) => collect('/v1/work-orders', { status }, 200)));
    mount(
      box,
      WO_STATUSES.map((s, i) =>
        h(
          'section',
          { 'aria-label': label(s) },
          h('h2', {}, `${label(s)} (${lists[i].items.length}${lists[i].more ? '+' : ''})`),
          h(
            'ul',
            {},
            lists[i].items.map((w) =>
              h('li', {}, h('a', { href: `#/work-orders/${w.id}` }, h('strong', {}, w.deviceSerial || w.deviceId), h('br'), `${label(w.taskType)} · ${w.schoolName || ''}`)),
            ),
          ),
        ),
      ),
    );
  } catch (err) {
    mount(box, errorAlert(err));
  }
}

/** The bulk actions for the selected rows (only those the caller may do). */
function bulkBar(reload) {
  const canUpdate = session.can('workorder:update');
  const canApprove = session.can('workorder:approval');
  if (!canUpdate && !canApprove) return null;
  let ids = [];
  const count = h('p', { 'aria-live': 'polite' });
  const result = h('div', { 'aria-live': 'polite' });
  const send = (path, body) => async () => {
    if (!ids.length) throw new Error('Select at least one work order first.');
    const r = await api(`/v1/work-orders/bulk/${path}`, { method: 'POST', body: { workOrderIds: ids, ...body } });
    mount(
      result,
      h(
        'div',
        { class: ['alert', r.failureCount ? 'warn' : 'ok'], role: 'status', 'data-result': 'bulk' },
        h('p', {}, `${r.successCount} of ${r.totalCount} changed; ${r.failureCount} failed.`),
        r.failed.length ? dataTable([{ label: 'Work order', value: (f) => f.id }, { label: 'Problem', value: (f) => `${f.code}: ${f.message}` }], r.failed) : null,
      ),
    );
    reload();
  };
  const forms = [];
  if (canUpdate) {
    forms.push(
      form({
        name: 'bulk-status',
        inline: true,
        submit: 'Move selected',
        fields: [{ name: 'status', label: 'New status', type: 'select', options: options(WO_STATUSES.filter((s) => s !== 'draft')) }],
        onSubmit: (v) => send('status', { status: v.status })(),
      }),
      assignForm((v) => send('assignment', compact(v))()),
    );
  }
  if (canApprove) {
    forms.push(
      form({
        name: 'bulk-approval',
        inline: true,
        submit: 'Decide selected',
        fields: [
          { name: 'decision', label: 'Decision', type: 'select', options: [['approved', 'Approve'], ['rejected', 'Reject back to QA']] },
          { name: 'notes', label: 'Notes (required to reject)' },
        ],
        onSubmit: (v) => send('approval', compact(v))(),
      }),
    );
  }
  const el = h(
    'section',
    { class: 'panel bulkbar', 'aria-label': 'Bulk actions', hidden: true },
    h('h2', {}, 'Bulk actions'),
    count,
    forms,
    result,
  );
  return {
    el,
    setSelection(next) {
      ids = next;
      count.textContent = `${ids.length} selected`;
      if (ids.length) el.hidden = false;
    },
  };
}

/** Bulk assignment: a technician and/or a shop, chosen from the tenant's active ones. */
function assignForm(onSubmit) {
  const f = form({
    name: 'bulk-assign',
    inline: true,
    submit: 'Assign selected',
    fields: [
      { name: 'assignedStaffId', label: 'Technician', type: 'select', options: [['', 'Keep as is']] },
      { name: 'serviceShopId', label: 'Shop', type: 'select', options: [['', 'Keep as is']] },
    ],
    onSubmit,
  });
  const fill = (name, path, text) =>
    api(path, { query: { active: 'true', limit: 200 } })
      .then((page) => f.querySelector(`[name="${name}"]`).append(...page.items.map((x) => h('option', { value: x.id }, text(x)))))
      .catch(() => {});
  if (session.can('servicestaff:read')) fill('assignedStaffId', '/v1/service-staff', (x) => `${x.userId} (${label(x.role)})`);
  if (session.can('serviceshop:read')) fill('serviceShopId', '/v1/service-shops', (x) => x.name);
  return f;
}
