// Overview of the selected school: open incidents by status and severity,
// SLA breaches and those due soon, work orders by status; the tenant's
// low-stock parts; sync health (central: the edge fleet; an edge: its link).

import { api, collect } from '../api.js';
import { OPEN_INCIDENT_STATUSES, SEVERITIES, SYNC_STATE_LABEL, WO_STATUSES, edgeSilent } from '../enums.js';
import { href } from '../router.js';
import { named } from '../names.js';
import { session, settings } from '../session.js';
import { h, mount, panel, badge, dataTable, errorAlert, loading, slaClock, label, ago } from '../ui.js';

const SOON_MS = 4 * 3600e3;

function stats(pairs) {
  return pairs.map(([name, count, link, attrs]) =>
    h('div', { class: 'stat' }, link ? h('a', { href: link }, name) : h('span', {}, name), h('strong', attrs || {}, count)),
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

/** The school to ask sync about: a caller limited to some schools may not ask about all. */
const syncSchool = () => (Array.isArray(session.me?.schools) ? session.school : '');

/** Central: how the tenant's edges are doing. */
async function fleetPanel() {
  const { items } = await api('/v1/sync/edges', { query: { schoolId: syncSchool() } });
  const now = Date.now();
  return panel(
    'Edge fleet',
    stats([
      ['Edges', String(items.length), '#/sync', { 'data-count': 'edges' }],
      ['Not seen for over 10 minutes', String(items.filter((e) => edgeSilent(e, now)).length)],
      ['Refused', String(items.filter((e) => e.status === 'refused').length)],
      ['Total lag (changes)', String(items.reduce((n, e) => n + (e.lagChanges || 0), 0))],
    ]),
    h('p', {}, h('a', { href: '#/sync' }, 'Sync status of every edge')),
  );
}

/** An edge: its link to central. */
async function linkPanel() {
  const [s, conflicts] = await Promise.all([
    api('/v1/sync/status'),
    // The count is a nicety: without it the card still shows the link.
    api('/v1/sync/conflicts', { query: { schoolId: syncSchool(), limit: 500 } }).catch(() => null),
  ]);
  const n = conflicts ? conflicts.items.length : null;
  return panel(
    'Sync',
    stats([
      ['State', SYNC_STATE_LABEL[s.state] || s.state, '#/sync', { 'data-sync-state': s.state }],
      ['Pending changes', String(s.outboxDepth)],
      ['Last contact', ago(s.lastContact)],
      ['Conflicts', n === null ? '—' : n >= 500 ? '500+' : String(n), href('/sync', { tab: 'conflicts' })],
    ]),
    s.message ? h('p', { class: 'muted' }, s.message) : null,
    h('p', {}, h('a', { href: '#/sync' }, 'Sync status and conflict log')),
  );
}

/**
 * Each panel loads on its own; one failing shows its problem, not a blank
 * page. With `optional`, a refusal (403) or a missing API (404) just leaves
 * the panel out. A `wide` one (a table) takes two columns on wide screens.
 */
function section(load, { optional = false, wide = false } = {}) {
  const box = h('div', { class: ['grid-item', wide && 'wide'] }, loading());
  load()
    .then((content) => mount(box, content))
    .catch((err) => {
      if (optional && [403, 404].includes(err?.status)) box.remove();
      else mount(box, errorAlert(err));
    });
  return box;
}

export default async function overview(view) {
  const parts = [];
  if (session.can('incident:read')) parts.push(section(incidentsPanel));
  if (session.can('workorder:read')) parts.push(section(workOrdersPanel));
  if (session.can('inventory:read')) parts.push(section(lowStockPanel, { wide: true }));
  if (session.can('sync:read')) parts.push(section(settings.mode === 'edge' ? linkPanel : fleetPanel, { optional: true }));
  mount(
    view,
    h('h1', {}, 'Overview'),
    h('p', { class: 'muted' }, `School ${session.school || '—'} · tenant ${session.tenant}`),
    h('div', { class: 'grid' }, parts),
  );
}
