// Overview of the selected school: open incidents by status and severity,
// SLA breaches and those due soon, work orders by status; the tenant's
// low-stock parts.

import { api, collect } from '../api.js';
import { OPEN_INCIDENT_STATUSES, SEVERITIES, WO_STATUSES } from '../enums.js';
import { href } from '../router.js';
import { named } from '../names.js';
import { session } from '../session.js';
import { h, mount, panel, badge, dataTable, errorAlert, loading, slaClock, label } from '../ui.js';

const SOON_MS = 4 * 3600e3;

function stats(pairs) {
  return pairs.map(([name, count, link]) =>
    h('div', { class: 'stat' }, link ? h('a', { href: link }, name) : h('span', {}, name), h('strong', {}, count)),
  );
}

const shown = (n, more) => (more ? `${n}+` : String(n));

async function incidentsPanel() {
  const lists = await Promise.all(OPEN_INCIDENT_STATUSES.map((status) => collect('/v1/incidents', { status }, 1000)));
  const open = lists.flatMap((l) => l.items);
  const more = lists.some((l) => l.more);
  const now = Date.now();
  const breached = open.filter((i) => i.slaBreached || new Date(i.slaDueAt).getTime() < now);
  const soon = open.filter((i) => !breached.includes(i) && new Date(i.slaDueAt).getTime() - now < SOON_MS);
  const urgent = [...breached, ...soon].sort((a, b) => a.slaDueAt.localeCompare(b.slaDueAt)).slice(0, 10);
  return [
    panel(
      'Open incidents by status',
      stats(OPEN_INCIDENT_STATUSES.map((s, i) => [label(s), shown(lists[i].items.length, lists[i].more), href('/incidents', { status: s })])),
      h('div', { class: 'stat' }, h('span', {}, 'All open'), h('strong', { 'data-count': 'open-incidents' }, shown(open.length, more))),
    ),
    panel(
      'Open incidents by severity',
      stats(SEVERITIES.map((s) => [label(s), String(open.filter((i) => i.severity === s).length), href('/incidents', { severity: s })])),
    ),
    panel(
      'SLA',
      stats([
        ['Breached', String(breached.length), href('/incidents', { slaBreached: 'true' })],
        ['Due within 4 hours', String(soon.length)],
      ]),
      urgent.length
        ? dataTable(
            [
              { label: 'Incident', value: (i) => h('a', { href: `#/incidents/${i.id}` }, i.title) },
              { label: 'Severity', value: (i) => badge(i.severity) },
              { label: 'SLA', value: slaClock },
            ],
            urgent,
          )
        : h('p', { class: 'muted' }, 'No open incident is breached or due soon.'),
    ),
  ];
}

async function workOrdersPanel() {
  const lists = await Promise.all(WO_STATUSES.map((status) => collect('/v1/work-orders', { status }, 1000)));
  return panel(
    'Work orders by status',
    stats(WO_STATUSES.map((s, i) => [label(s), shown(lists[i].items.length, lists[i].more), href('/work-orders', { status: s })])),
  );
}

async function lowStockPanel() {
  const page = await api('/v1/inventory/low-stock', { query: { limit: 5 } });
  return panel(
    'Low stock (all shops)',
    dataTable(
      [
        { label: 'Part', value: (r) => named('part', r.partId) },
        { label: 'Shop', value: (r) => named('shop', r.serviceShopId) },
        { label: 'Free', value: (r) => String(r.qtyAvailable - r.qtyReserved) },
        { label: 'Reorder at', value: (r) => String(r.reorderThreshold) },
      ],
      page.items,
      { empty: 'No part is at or below its reorder threshold.' },
    ),
    h('p', {}, h('a', { href: href('/inventory', { view: 'low' }) }, 'All reorder alerts')),
  );
}

/** Each panel loads on its own; one failing shows its problem, not a blank page. */
function section(load) {
  const box = h('div', { class: 'grid-item' }, loading());
  load()
    .then((content) => mount(box, content))
    .catch((err) => mount(box, errorAlert(err)));
  return box;
}

export default async function overview(view) {
  const parts = [];
  if (session.can('incident:read')) parts.push(section(incidentsPanel));
  if (session.can('workorder:read')) parts.push(section(workOrdersPanel));
  if (session.can('inventory:read')) parts.push(section(lowStockPanel));
  mount(
    view,
    h('h1', {}, 'Overview'),
    h('p', { class: 'muted' }, `School ${session.school || '—'} · tenant ${session.tenant}`),
    h('div', { class: 'grid' }, parts),
  );
}
