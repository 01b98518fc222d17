// One work order: status moves and rework, assignment, BOM (suggestions,
// reserve, consume, release), schedule, deliverables, approvals, rework
// history, attachments and audit trail.

import { api } from '../api.js';
import { APPROVAL_TYPES, MOVE_LABEL, REWORK_CATEGORIES, WO_FORWARD, WO_REWORK } from '../enums.js';
import { named } from '../names.js';
import { attachmentsPanel, auditTrail } from '../panels.js';
import { session } from '../session.js';
import {
  h, mount, actionButton, alertBox, badge, compact, dataTable, errorAlert, fmtDate, form, label, loading, money, options, panel, props, tabs,
} from '../ui.js';

export default async function workOrder(view, params, query) {
  const wo = await api(`/v1/work-orders/${encodeURIComponent(params.id)}`);
  const reload = () => workOrder(view, params, { ...query, tab: current });
  let current = query.tab;
  mount(
    view,
    h('p', {}, h('a', { href: '#/work-orders' }, '← Work orders'), wo.incidentId ? [' · ', h('a', { href: `#/incidents/${wo.incidentId}` }, 'Incident')] : null),
    h('h1', {}, `Work order · ${wo.deviceSerial || wo.deviceId}`),
    h('p', { class: 'actions' }, badge(wo.status), h('span', {}, 'approval: '), badge(wo.approvalStatus)),
    tabs(
      [
        { id: 'status', label: 'Status', render: (p) => statusTab(p, wo, reload) },
        { id: 'bom', label: 'Parts (BOM)', render: (p) => bomTab(p, wo) },
        { id: 'schedule', label: 'Schedule', render: (p) => scheduleTab(p, wo) },
        { id: 'deliverables', label: 'Deliverables', render: (p) => deliverablesTab(p, wo) },
        { id: 'approvals', label: 'Approvals', render: (p) => approvalsTab(p, wo, reload) },
        { id: 'rework', label: 'Rework history', render: (p) => reworkTab(p, wo) },
        { id: 'attachments', label: 'Attachments', render: (p) => mount(p, attachmentsPanel('work_order', wo.id)) },
        { id: 'audit', label: 'Audit trail', render: (p) => mount(p, auditTrail('work_order', wo.id)) },
      ],
      { selected: current, onSelect: (id) => (current = id) },
    ),
  );
}

/** Loads a child list into a panel, showing its problem if it fails. */
async function into(el, load) {
  mount(el, loading());
  try {
    mount(el, await load());
  } catch (err) {
    mount(el, errorAlert(err));
  }
}

// ---------- status, rework, assignment ----------

function statusTab(p, wo, reload) {
  const box = alertBox();
  const forward = session.can('workorder:update')
    ? (WO_FORWARD[wo.status] || []).map((to) =>
        actionButton(MOVE_LABEL[to], async () => {
          await api(`/v1/work-orders/${wo.id}/status`, { method: 'PATCH', body: { status: to }, ifMatch: wo.version });
          await reload();
        }, { done: `Work order ${label(to)}`, alertBox: box, name: `wo-${to}` }),
      )
    : [];
  const back = WO_REWORK[wo.status] || [];
  mount(
    p,
    panel(
      'Details',
      props([
        ['Status', h('span', { 'data-status': wo.status }, label(wo.status))],
        ['Approval', label(wo.approvalStatus)],
        ['Task', label(wo.taskType)],
        ['Device', `${wo.deviceSerial || wo.deviceId}${wo.deviceModel ? ` · ${wo.deviceMake} ${wo.deviceModel}` : ''}`],
        ['School', wo.schoolName || wo.schoolId],
        ['Contact', [wo.contactName, wo.contactPhone].filter(Boolean).join(' · ')],
        ['Shop', named('shop', wo.serviceShopId)],
        ['Technician', named('staff', wo.assignedStaffId)],
        ['Repair location', label(wo.repairLocation)],
        ['Cost estimate', money(wo.costEstimateCents)],
        ['Rework count', String(wo.reworkCount)],
        wo.lastReworkReason && ['Last rework', `${wo.lastReworkReason} (${fmtDate(wo.lastReworkAt)})`],
        ['Notes', wo.notes],
        ['Opened', `${fmtDate(wo.createdAt)} by ${wo.createdBy}`],
        ['Id', h('span', { class: 'mono' }, wo.id)],
      ]),
    ),
    forward.length ? panel('Move forward', box, h('div', { class: 'actions' }, forward)) : box,
    session.can('workorder:review') && back.length
      ? panel(
          'Send back for rework',
          form({
            name: 'reject',
            submit: 'Send back',
            fields: [
              { name: 'targetStatus', label: 'Back to', type: 'select', options: options(back) },
              { name: 'category', label: 'Why (category)', type: 'select', options: options(REWORK_CATEGORIES) },
              { name: 'reason', label: 'Reason', type: 'textarea', required: true },
            ],
            onSubmit: async (v) => {
              await api(`/v1/work-orders/${wo.id}/reject`, { method: 'POST', body: v, ifMatch: wo.version });
              await reload();
            },
          }),
        )
      : null,
    session.can('workorder:update') ? panel('Assignment and details', assignmentForm(wo, reload)) : null,
  );
}

function assignmentForm(wo, reload) {
  const f = form({
    name: 'wo-edit',
    submit: 'Save',
    fields: [
      { name: 'serviceShopId', label: 'Service shop id', value: wo.serviceShopId, placeholder: 'shop_…' },
      { name: 'assignedStaffId', label: 'Technician', type: 'select', options: [[wo.assignedStaffId, wo.assignedStaffId || 'Nobody']], value: wo.assignedStaffId },
      { name: 'repairLocation', label: 'Repair location', value: wo.repairLocation, hint: 'service_shop, on_site or the depot name' },
      { name: 'costEstimateCents', label: 'Cost estimate (cents)', type: 'number', min: 0, value: wo.costEstimateCents },
      { name: 'notes', label: 'Notes', type: 'textarea', value: wo.notes },
    ],
    onSubmit: async (v) => {
      const changed = Object.fromEntries(Object.entries(v).filter(([k, x]) => x !== undefined && x !== wo[k]));
      if (!Object.keys(changed).length) throw new Error('Nothing changed.');
      await api(`/v1/work-orders/${wo.id}`, { method: 'PATCH', body: changed, ifMatch: wo.version });
      await reload();
    },
  });
  // The technicians of the work order's shop.
  const select = f.querySelector('[name="assignedStaffId"]');
  if (wo.serviceShopId && session.can('servicestaff:read')) {
    api('/v1/service-staff', { query: { serviceShopId: wo.serviceShopId, active: 'true', limit: 200 } })
      .then((page) => {
        for (const s of page.items) {
          if (s.id !== wo.assignedStaffId) select.append(h('option', { value: s.id }, `${s.userId} (${label(s.role)})`));
        }
        if (!wo.assignedStaffId) select.firstChild.value = '';
      })
      .catch(() => {});
  }
  return f;
}

// ---------- BOM ----------

function bomTab(p, wo) {
  const lines = h('div', { 'data-list': 'bom' });
  const suggestions = h('div', { 'data-list': 'suggestions' });
  const problems = alertBox();
  const refresh = () => Promise.all([into(lines, () => bomLines(wo, refresh, problems)), session.can('bom:update') ? into(suggestions, () => suggest(wo, refresh, problems)) : null]);
  refresh();
  mount(
    p,
    problems,
    panel('Parts on this work order', lines),
    session.can('bom:update')
      ? [panel('Compatible parts in stock at the shop', suggestions), panel('Add any part', addPartForm(wo, refresh))]
      : null,
  );
}

async function bomLines(wo, refresh, problems) {
  const page = await api(`/v1/work-orders/${wo.id}/bom`);
  const canMove = session.can('bom:consume');
  const qtyAction = (line, verb, path, key, max) => {
    const id = `${verb}-${line.id}`;
    const input = h('input', { id, type: 'number', min: 1, max, value: max, inputmode: 'numeric' });
    const button = actionButton(
      verb === 'consume' ? 'Consume' : 'Release',
      async () => {
        await api(`/v1/work-orders/${wo.id}/bom/items/${line.id}/${path}`, { method: 'PATCH', body: { [key]: Number(input.value) } });
        await refresh();
      },
      { done: verb === 'consume' ? 'Parts consumed' : 'Reservation released', alertBox: problems, name: `bom-${verb}`, kind: verb === 'release' ? 'secondary' : '' },
    );
    return h('div', { class: 'actions' }, h('label', { for: id, class: 'hint' }, verb === 'consume' ? 'Qty used' : 'Qty to release'), input, button);
  };
  return dataTable(
    [
      { label: 'Part', value: (l) => named('part', l.partId) },
      { label: 'Planned (reserved)', value: (l) => String(l.qtyPlanned) },
      { label: 'Used', value: (l) => h('span', { 'data-qty-used': l.id }, String(l.qtyUsed)) },
      {
        label: 'Actions',
        value: (l) => {
          const left = l.qtyPlanned - l.qtyUsed;
          // A line released in full reserves nothing and used nothing: not "all used".
          if (left <= 0) return l.qtyPlanned === 0 ? 'Released' : 'All used';
          if (!canMove) return '—';
          return [qtyAction(l, 'consume', 'consume', 'qtyUsed', left), qtyAction(l, 'release', 'release', 'qty', left)];
        },
      },
    ],
    page.items,
    { empty: 'No parts planned yet.' },
  );
}

/** Parts the SSOT lists as compatible with the device's model, with the shop's free stock. */
async function suggest(wo, refresh, problems) {
  if (!wo.deviceModelId) return h('p', { class: 'muted' }, 'The device model is unknown, so there are no suggestions.');
  if (!wo.serviceShopId) return h('p', { class: 'muted' }, 'The work order has no shop to reserve parts at.');
  let compat;
  try {
    compat = await api('/v1/part-compatibility', { query: { deviceModelId: wo.deviceModelId, limit: 100 } });
  } catch (err) {
    if (err.status === 404) return h('p', { class: 'muted' }, 'This server does not serve the parts catalogue; add parts by id below.');
    throw err;
  }
  const stock = await api('/v1/inventory', { query: { serviceShopId: wo.serviceShopId, limit: 200 } });
  const free = new Map(stock.items.map((s) => [s.partId, s.qtyAvailable - s.qtyReserved]));
  const all = compat.items.map((c) => ({ id: c.partId, free: free.get(c.partId) ?? 0 })).sort((a, b) => b.free - a.free);
  const rows = all.filter((r) => r.free > 0).slice(0, 10);
  const out = all.filter((r) => r.free <= 0).length;
  const note = h('p', { class: 'muted' }, `${all.length} compatible part(s) in the catalogue; ${out} out of stock at this shop${rows.length < all.length - out ? `; showing the ${rows.length} with most stock` : ''}.`);
  return [note, dataTable(
    [
      { label: 'Part', value: (r) => named('part', r.id) },
      { label: 'Free at shop', value: (r) => h('span', { 'data-free': r.id }, String(r.free)) },
      {
        label: 'Reserve',
        value: (r) =>
          r.free > 0
            ? actionButton('Reserve 1', async () => {
                await api(`/v1/work-orders/${wo.id}/bom/items`, { method: 'POST', body: { partId: r.id, qtyPlanned: 1 }, idempotent: true });
                await refresh();
              }, { done: 'Part reserved', alertBox: problems, name: 'bom-reserve' })
            : 'Out of stock',
      },
    ],
    rows,
    { empty: all.length ? 'None of the compatible parts is in stock at this shop.' : 'The catalogue lists no compatible part for this model.' },
  )];
}

function addPartForm(wo, refresh) {
  return form({
    name: 'bom-add',
    submit: 'Reserve part',
    fields: [
      { name: 'partId', label: 'Part id', placeholder: 'part_…', hint: 'Find ids under Reference data → Parts.' },
      { name: 'qtyPlanned', label: 'Quantity', type: 'number', min: 1, value: 1 },
      { name: 'overrideCompatibility', label: 'Use it even if the catalogue says it does not fit this model (audited)', type: 'checkbox' },
    ],
    onSubmit: async (v, f) => {
      const body = { partId: v.partId.trim(), qtyPlanned: v.qtyPlanned };
      if (v.overrideCompatibility) body.overrideCompatibility = true;
      await api(`/v1/work-orders/${wo.id}/bom/items`, { method: 'POST', body, idempotent: true });
      f.reset();
      await refresh();
    },
  });
}

// ---------- schedule ----------

/** datetime-local (the browser's zone) → RFC 3339. */
const iso = (local) => (local ? new Date(local).toISOString() : '');

function scheduleTab(p, wo) {
  const list = h('div', {});
  const refresh = () =>
    into(list, async () =>
      dataTable(
        [
          { label: 'Start', value: (s) => fmtDate(s.scheduledStart) },
          { label: 'End', value: (s) => fmtDate(s.scheduledEnd) },
          { label: 'Time zone', value: (s) => s.timezone },
          { label: 'Notes', value: (s) => s.notes },
          { label: 'By', value: (s) => s.createdBy },
        ],
        (await api(`/v1/work-orders/${wo.id}/schedules`, { query: { limit: 200 } })).items,
        { empty: 'No visit scheduled.' },
      ),
    );
  refresh();
  mount(
    p,
    panel('Visits', list),
    session.can('workorder:schedule')
      ? panel(
          'Schedule a visit',
          form({
            name: 'schedule',
            submit: 'Add visit',
            fields: [
              { name: 'scheduledStart', label: 'Start', type: 'datetime-local' },
              { name: 'scheduledEnd', label: 'End', type: 'datetime-local' },
              { name: 'timezone', label: 'Time zone', value: 'Africa/Nairobi' },
              { name: 'notes', label: 'Notes', type: 'textarea' },
            ],
            onSubmit: async (v, f) => {
              const body = compact({ ...v, scheduledStart: iso(v.scheduledStart), scheduledEnd: iso(v.scheduledEnd) });
              await api(`/v1/work-orders/${wo.id}/schedule`, { method: 'POST', body, idempotent: true });
              f.reset();
              await refresh();
            },
          }),
        )
      : null,
  );
}

// ---------- deliverables ----------

function deliverablesTab(p, wo) {
  const list = h('div', { 'data-list': 'deliverables' });
  const refresh = () => into(list, () => deliverables(wo, refresh));
  refresh();
  mount(
    p,
    panel('Deliverables', list),
    session.can('workorder:deliverable')
      ? panel(
          'Add a deliverable',
          form({
            name: 'deliverable',
            submit: 'Add deliverable',
            fields: [
              { name: 'title', label: 'Title' },
              { name: 'description', label: 'Description', type: 'textarea' },
            ],
            onSubmit: async (v, f) => {
              await api(`/v1/work-orders/${wo.id}/deliverables`, { method: 'POST', body: compact(v), idempotent: true });
              f.reset();
              await refresh();
            },
          }),
        )
      : null,
  );
}

async function deliverables(wo, refresh) {
  const [page, files] = await Promise.all([
    api(`/v1/work-orders/${wo.id}/deliverables`, { query: { limit: 200 } }),
    api('/v1/attachments', { query: { entityType: 'work_order', entityId: wo.id } }).catch(() => ({ items: [] })),
  ]);
  const evidence = files.items.map((a) => [a.id, a.fileName]);
  const act = (d) => {
    const out = [];
    if (session.can('workorder:deliverable') && ['pending', 'rejected'].includes(d.status)) {
      out.push(
        form({
          name: `submit-${d.id}`,
          submit: d.status === 'rejected' ? 'Resubmit' : 'Submit',
          fields: [
            evidence.length
              ? { name: 'evidenceAttachmentId', label: 'Evidence', type: 'select', options: evidence }
              : { name: 'evidenceAttachmentId', label: 'Evidence attachment id', hint: 'Upload a photo in the Attachments tab first.' },
            { name: 'notes', label: 'Notes' },
          ],
          onSubmit: async (v) => {
            await api(`/v1/work-orders/${wo.id}/deliverables/${d.id}/submit`, { method: 'PATCH', body: compact(v) });
            await refresh();
          },
        }),
      );
    }
    if (session.can('workorder:review') && d.status === 'submitted') {
      out.push(
        form({
          name: `review-${d.id}`,
          submit: 'Record review',
          fields: [
            { name: 'status', label: 'Decision', type: 'select', options: [['approved', 'Approve'], ['rejected', 'Reject']] },
            { name: 'notes', label: 'Review notes' },
          ],
          onSubmit: async (v) => {
            await api(`/v1/work-orders/${wo.id}/deliverables/${d.id}/review`, { method: 'PATCH', body: compact(v) });
            await refresh();
          },
        }),
      );
    }
    return out.length ? out : '—';
  };
  return dataTable(
    [
      { label: 'Deliverable', value: (d) => [h('strong', {}, d.title), d.description ? h('div', { class: 'muted' }, d.description) : null] },
      { label: 'Status', value: (d) => badge(d.status) },
      { label: 'Evidence', value: (d) => (d.evidenceAttachmentId ? h('span', { class: 'mono' }, d.evidenceAttachmentId) : '—') },
      { label: 'Notes', value: (d) => [d.submissionNotes, d.reviewNotes && `Review: ${d.reviewNotes}`].filter(Boolean).join(' · ') },
      { label: 'Actions', value: act },
    ],
    page.items,
    { empty: 'No deliverables.' },
  );
}

// ---------- approvals ----------

function approvalsTab(p, wo, reload) {
  const list = h('div', { 'data-list': 'approvals' });
  const problems = alertBox();
  const refresh = () => into(list, () => approvals(wo, reload, problems));
  refresh();
  mount(
    p,
    problems,
    panel('Approvals', list),
    session.can('workorder:approval')
      ? panel(
          'Ask for a sign-off',
          form({
            name: 'approval-request',
            submit: 'Request approval',
            fields: [{ name: 'approvalType', label: 'Type', type: 'select', options: options(APPROVAL_TYPES) }],
            onSubmit: async (v) => {
              await api(`/v1/work-orders/${wo.id}/approvals`, { method: 'POST', body: v, idempotent: true });
              await reload();
            },
          }),
        )
      : null,
  );
}

async function approvals(wo, reload, problems) {
  const page = await api(`/v1/work-orders/${wo.id}/approvals`, { query: { limit: 200 } });
  const decide = (a, status) =>
    actionButton(status === 'approved' ? 'Approve' : 'Reject', async () => {
      await api(`/v1/work-orders/${wo.id}/approvals/${a.id}/decide`, { method: 'PATCH', body: { status } });
      await reload();
    }, { done: `Approval ${status}`, alertBox: problems, name: `approval-${status}`, kind: status === 'rejected' ? 'danger' : '' });
  return dataTable(
    [
      { label: 'Type', value: (a) => label(a.approvalType) },
      { label: 'Status', value: (a) => badge(a.status) },
      { label: 'Requested', value: (a) => `${a.requestedBy} · ${fmtDate(a.requestedAt)}` },
      { label: 'Decided', value: (a) => (a.decidedAt ? `${a.decidedBy} · ${fmtDate(a.decidedAt)}${a.decisionNotes ? ` · ${a.decisionNotes}` : ''}` : '—') },
      {
        label: 'Decide',
        value: (a) => (a.status === 'pending' && session.can('workorder:approval') ? h('div', { class: 'actions' }, decide(a, 'approved'), decide(a, 'rejected')) : '—'),
      },
    ],
    page.items,
    { empty: 'No approval requested.' },
  );
}

// ---------- rework history ----------

function reworkTab(p, wo) {
  into(p, async () =>
    dataTable(
      [
        { label: '#', value: (r) => String(r.seq) },
        { label: 'From → to', value: (r) => `${label(r.fromStatus)} → ${label(r.toStatus)}` },
        { label: 'Category', value: (r) => label(r.category) },
        { label: 'Reason', value: (r) => r.reason },
        { label: 'By', value: (r) => `${r.actor} · ${fmtDate(r.createdAt)}` },
      ],
      (await api(`/v1/work-orders/${wo.id}/rework-history`)).history,
      { empty: 'Never sent back.' },
    ),
  );
}

