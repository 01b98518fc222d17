// One incident: details, SLA clock, status moves, edit, linked work
// orders, attachments (camera upload) and the audit trail.

import { api } from '../api.js';
import { CATEGORIES, INCIDENT_NEXT, MOVE_LABEL, SEVERITIES } from '../enums.js';
import { attachmentsPanel, auditTrail } from '../panels.js';
import { session } from '../session.js';
import { h, mount, actionButton, alertBox, badge, errorAlert, dataTable, field, fmtDate, form, label, options, panel, props, slaClock, tabs } from '../ui.js';
import { workOrderColumns } from './work-orders.js';

export default async function incident(view, params, query) {
  const inc = await api(`/v1/incidents/${encodeURIComponent(params.id)}`);
  const reload = () => incident(view, params, query);
  const canUpdate = session.can('incident:update');

  mount(
    view,
    h('p', {}, h('a', { href: '#/incidents' }, '← Incidents')),
    h('h1', {}, inc.title),
    h('p', { class: 'actions' }, badge(inc.status), badge(inc.severity), inc.slaBreached ? badge('breached', 'breached') : null),
    panel(
      'Details',
      props([
        ['Status', h('span', { 'data-status': inc.status }, label(inc.status))],
        ['SLA', h('span', {}, slaClock(inc), h('br'), h('span', { class: 'muted' }, `due ${fmtDate(inc.slaDueAt)}`))],
        inc.breachedAt && ['Breached at', fmtDate(inc.breachedAt)],
        ['Device', `${inc.deviceSerial || inc.deviceId}${inc.deviceAssetTag ? ` · ${inc.deviceAssetTag}` : ''}${inc.deviceModel ? ` · ${inc.deviceMake} ${inc.deviceModel}` : ''}`],
        ['School', `${inc.schoolName || inc.schoolId}${inc.countyName ? ` · ${inc.subCountyName || ''} ${inc.countyName}` : ''}`],
        ['Contact', [inc.contactName, inc.contactPhone, inc.contactEmail].filter(Boolean).join(' · ')],
        ['Category', label(inc.category)],
        ['Reported by', `${inc.reportedBy} on ${fmtDate(inc.createdAt)}`],
        inc.acknowledgedAt && ['Acknowledged', fmtDate(inc.acknowledgedAt)],
        inc.resolvedAt && ['Resolved', fmtDate(inc.resolvedAt)],
        inc.closedAt && ['Closed', fmtDate(inc.closedAt)],
        inc.statusReason && ['Last reason', inc.statusReason],
        ['Description', inc.description],
        ['Id', h('span', { class: 'mono' }, inc.id)],
      ]),
    ),
    canUpdate ? statusPanel(inc, reload) : null,
    tabs(
      [
        { id: 'work-orders', label: 'Work orders', render: (p) => mount(p, linkedWorkOrders(inc, reload)) },
        { id: 'attachments', label: 'Attachments', render: (p) => mount(p, attachmentsPanel('incident', inc.id)) },
        { id: 'audit', label: 'Audit trail', render: (p) => mount(p, auditTrail('incident', inc.id)) },
        canUpdate && { id: 'edit', label: 'Edit', render: (p) => mount(p, editForm(inc, reload)) },
      ].filter(Boolean),
      { selected: query.tab },
    ),
  );
}

/** One button per allowed move; a reason goes with it (required to reopen). */
function statusPanel(inc, reload) {
  const next = INCIDENT_NEXT[inc.status] || [];
  if (!next.length) return panel('Status', h('p', { class: 'muted' }, 'Closed incidents do not move.'));
  const box = alertBox();
  const reason = field({ name: 'reason', label: 'Reason', type: 'textarea', hint: 'Required to reopen a resolved incident; recorded with any move.' });
  const move = (to) =>
    actionButton(
      to === 'in_progress' && inc.status === 'resolved' ? 'Reopen' : MOVE_LABEL[to],
      async () => {
        const text = reason.querySelector('textarea').value.trim();
        await api(`/v1/incidents/${inc.id}/status`, {
          method: 'PATCH',
          body: text ? { status: to, reason: text } : { status: to },
          ifMatch: inc.version,
        });
        await reload();
      },
      { done: `Incident ${label(to)}`, alertBox: box, name: `incident-${to}`, kind: to === 'escalated' ? 'danger' : '' },
    );
  return panel('Status', box, reason, h('div', { class: 'actions' }, next.map(move)));
}

function linkedWorkOrders(inc, reload) {
  const box = h('div', {});
  const problems = alertBox();
  api('/v1/work-orders', { query: { incidentId: inc.id, limit: 50 } })
    .then((page) => {
      const open =
        session.can('workorder:create') && !page.items.length
          ? actionButton(
              'Open a work order',
              async () => {
                await api('/v1/work-orders', { method: 'POST', body: { incidentId: inc.id, taskType: 'triage' }, idempotent: true });
                await reload();
              },
              { done: 'Work order opened', alertBox: problems },
            )
          : null;
      mount(
        box,
        problems,
        dataTable(workOrderColumns, page.items, { empty: 'No work order yet (auto-routing found no shop, or it is off).' }),
        open,
      );
    })
    .catch((err) => mount(box, errorAlert(err)));
  return box;
}

function editForm(inc, reload) {
  return form({
    name: 'incident-edit',
    submit: 'Save changes',
    fields: [
      { name: 'title', label: 'Title', value: inc.title },
      { name: 'severity', label: 'Severity', type: 'select', options: options(SEVERITIES), value: inc.severity, hint: 'Changing it recomputes the SLA deadline.' },
      { name: 'category', label: 'Category', type: 'select', options: options(CATEGORIES.includes(inc.category) ? CATEGORIES : [...CATEGORIES, inc.category]), value: inc.category },
      { name: 'description', label: 'Description', type: 'textarea', value: inc.description },
    ],
    onSubmit: async (values) => {
      const changed = Object.fromEntries(Object.entries(values).filter(([k, v]) => v !== inc[k]));
      if (!Object.keys(changed).length) throw new Error('Nothing changed.');
      await api(`/v1/incidents/${inc.id}`, { method: 'PATCH', body: changed, ifMatch: inc.version });
      await reload();
    },
  });
}
