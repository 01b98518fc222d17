// Edge sync (docs/sync.md). On central: the fleet of edges with their lag,
// filtered by school, and one school's edge with its conflict log and the
// changes central refused. On an edge: its own link to central, "Sync now"
// (with sync:admin), and the same two logs.

import { api } from '../api.js';
import { CONFLICT_REASON, EDGE_STATUS_LABEL, SYNC_SEVERITY, SYNC_STATE_LABEL, edgeSilent } from '../enums.js';
import { filterForm } from '../list.js';
import { named } from '../names.js';
import { session, settings } from '../session.js';
import { h, mount, alertBox, dataTable, duration, errorAlert, fmtDate, label, loading, panel, props, run, tabs, timeAgo, toast } from '../ui.js';

/** Newest entries shown of a log, then up to the API's maximum on request. */
const FIRST_PAGE = 100;
const MAX_PAGE = 500;

/**
 * The school to ask about: the one named, else (for a caller limited to
 * some schools, who may not ask about all of them) the working school.
 */
export function syncSchool(given) {
  if (given) return given;
  return Array.isArray(session.me?.schools) ? session.school : '';
}

export default async function sync(view, params, query) {
  if (settings.mode === 'edge') return edgeView(view, query);
  if (params.school) return schoolView(view, params.school, query);
  return fleetView(view, query);
}

// ---------- shared pieces ----------

/** A badge for an edge status or link state, coloured by how bad it is. */
function syncBadge(value, words) {
  return h('span', { class: ['badge', `sync-${SYNC_SEVERITY[value] || 'warn'}`], 'data-sync-status': value }, words || label(value));
}

/** Last seen, in words; emphasised when the edge has been silent for over 10 minutes. */
function lastSeen(edge) {
  const t = edge.lastSeenAt ? timeAgo(edge.lastSeenAt) : 'never reported';
  return edgeSilent(edge) ? h('span', { class: 'stale' }, t, edge.lastSeenAt ? ' · silent' : '') : t;
}

/** Lag as of the last checkpoint: changes not applied yet, and the age of the oldest. */
const lag = (e) =>
  e.checkpoint === null || e.checkpoint === undefined
    ? 'no checkpoint yet'
    : `${e.lagChanges} ${e.lagChanges === 1 ? 'change' : 'changes'} · ${duration(e.lagSeconds)}`;

/** The screen that shows a synced record, when there is one, and what to call rows of a table. */
const RECORD_SCREENS = { incidents: '/incidents/', work_orders: '/work-orders/' };
const RECORD_WORDS = { incidents: 'Incident', work_orders: 'Work order' };

/**
 * A table row's name: a link to the incident or work order (switching the
 * working school to the record's, since records are read in their school),
 * else the table and id as text.
 */
function record(tableName, rowId, schoolId) {
  const what = [`${RECORD_WORDS[tableName] || label(tableName)} `, h('span', { class: 'mono' }, rowId)];
  const base = RECORD_SCREENS[tableName];
  if (!base) return h('span', {}, what);
  const target = `#${base}${encodeURIComponent(rowId)}`;
  return h(
    'a',
    {
      href: target,
      'data-record': rowId,
      onclick: (e) => {
        if (!schoolId || schoolId === session.school) return;
        e.preventDefault();
        session.setSchool(schoolId);
        location.hash = target;
        location.reload();
      },
    },
    what,
  );
}

/** A kept or lost value as text. */
const shown = (v) => (v === null || v === undefined ? '(empty)' : typeof v === 'string' ? v : JSON.stringify(v));

/** One conflict: where, what was kept and what was lost (as a before/after diff), why, when. */
export function conflictEntry(c) {
  return h(
    'article',
    { class: 'entry', 'data-conflict': c.id },
    h('h3', {}, record(c.tableName, c.rowId, c.schoolId), ` · ${c.field}`),
    h('p', {}, h('strong', {}, CONFLICT_REASON[c.reason] || label(c.reason)), ' · ', timeAgo(c.createdAt), h('span', { class: 'muted' }, ` (${fmtDate(c.createdAt)})`)),
    h(
      'table',
      { class: 'diff' },
      h('caption', { class: 'visually-hidden' }, `Values of ${c.field}`),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, 'Lost'), h('th', { scope: 'col' }, 'Kept'))),
      h(
        'tbody',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, c.field),
          h('td', { class: 'before' }, h('del', {}, shown(c.lostValue))),
          h('td', { class: 'after' }, h('ins', {}, shown(c.keptValue))),
        ),
      ),
    ),
    h('p', { class: 'muted mono' }, `kept clock ${c.keptClock} · lost clock ${c.lostClock}`),
  );
}

const rejectionColumns = [
  { label: 'When', value: (r) => [timeAgo(r.createdAt), h('br'), h('span', { class: 'muted' }, fmtDate(r.createdAt))] },
  { label: 'Record', value: (r) => record(r.tableName, r.rowId, r.schoolId) },
  { label: 'Reason', value: (r) => r.reason },
  { label: 'Position', value: (r) => h('span', { class: 'mono' }, `seq ${r.seq} · epoch ${r.epoch}`) },
];

/**
 * A log (`conflicts` or `rejections`) of one school, or every school: the
 * newest 100, then up to 500 on request.
 */
function journal(kind, school) {
  const box = h('div', { 'data-list': kind }, loading());
  const load = async (limit) => {
    try {
      const { items } = await api(`/v1/sync/${kind}`, { query: { schoolId: school, limit } });
      const more =
        items.length === limit && limit < MAX_PAGE
          ? h('div', { class: 'pager' }, h('button', { type: 'button', class: 'secondary', onclick: (e) => { e.target.disabled = true; load(MAX_PAGE); } }, `Show up to ${MAX_PAGE}`))
          : null;
      const count = items.length ? h('p', { class: 'muted' }, items.length === limit ? `The newest ${limit}.` : `${items.length} in all, newest first.`) : null;
      if (kind === 'conflicts') {
        mount(box, count, items.length ? items.map(conflictEntry) : h('p', { class: 'empty' }, 'No conflict: every merge kept both sides’ changes.'), more);
      } else {
        mount(box, count, dataTable(rejectionColumns, items, { empty: 'No change was refused.' }), more);
      }
    } catch (err) {
      mount(box, errorAlert(err));
    }
  };
  load(FIRST_PAGE);
  return box;
}

function logs(school, query) {
  return tabs(
    [
      { id: 'conflicts', label: 'Conflict log', render: (p) => mount(p, h('p', { class: 'muted' }, 'Values a merge overwrote or discarded: the lost value and the one kept.'), journal('conflicts', school)) },
      { id: 'rejections', label: 'Rejected changes', render: (p) => mount(p, h('p', { class: 'muted' }, 'Changes from the edge that central refused; the ones after them still went through.'), journal('rejections', school)) },
    ],
    { selected: query.tab },
  );
}

// ---------- central: the fleet ----------

const fleetColumns = [
  { label: 'School', value: (e) => h('a', { href: `#/sync/${encodeURIComponent(e.schoolId)}`, 'data-edge': e.schoolId }, named('school', e.schoolId)) },
  {
    label: 'Status',
    value: (e) => [syncBadge(e.status, EDGE_STATUS_LABEL[e.status]), e.statusMessage ? h('span', { class: 'status-message' }, e.statusMessage) : null],
  },
  { label: 'Lag', value: lag },
  { label: 'Last seen', value: lastSeen },
  { label: 'Outbox', value: (e) => (e.outboxDepth ?? '—') },
  { label: 'Conflicts', value: (e) => String(e.conflicts) },
  { label: 'Rejected', value: (e) => String(e.rejected) },
  { label: 'App version', value: (e) => e.appVersion || '—' },
];

async function fleetView(view, query) {
  const school = syncSchool(query.schoolId);
  const filters = filterForm('/sync', [{ name: 'schoolId', label: 'School id', placeholder: 'Every school', value: school }], query);
  const list = h('div', { 'data-list': 'edges' }, loading());
  mount(
    view,
    h('h1', {}, 'Sync'),
    h('p', { class: 'muted' }, 'Edges are school boxes that work offline and sync with central when their link is up.'),
    h('details', { class: 'panel', open: window.innerWidth >= 700 || Boolean(query.schoolId) }, h('summary', {}, 'Filter by school'), filters),
    list,
  );
  try {
    const { items } = await api('/v1/sync/edges', { query: { schoolId: school } });
    const now = Date.now();
    const silent = items.filter((e) => edgeSilent(e, now)).length;
    const refused = items.filter((e) => e.status === 'refused').length;
    mount(
      list,
      items.length
        ? h('p', { class: 'muted', 'data-summary': 'fleet' }, `${items.length} ${items.length === 1 ? 'edge' : 'edges'} · ${silent} silent for over 10 minutes · ${refused} refused`)
        : null,
      dataTable(fleetColumns, items, {
        caption: 'Enrolled edges: lag, last checkpoint and what merges lost',
        empty: school
          ? `No edge is enrolled for school ${school}.`
          : 'No edge has enrolled yet. An edge enrolls itself the first time it starts with a link to central.',
      }),
    );
  } catch (err) {
    mount(list, errorAlert(err));
  }
}

// ---------- central: one school ----------

async function schoolView(view, school, query) {
  const edgeBox = h('div', { 'data-edge-detail': school }, loading());
  mount(
    view,
    h('p', {}, h('a', { href: '#/sync' }, '← All edges')),
    h('h1', {}, 'Sync · ', named('school', school)),
    panel('Edge', edgeBox),
    logs(school, query),
  );
  try {
    const { items } = await api('/v1/sync/edges', { query: { schoolId: school } });
    const e = items[0];
    if (!e) return mount(edgeBox, h('p', { class: 'empty' }, `No edge is enrolled for school ${school}.`));
    mount(
      edgeBox,
      props([
        ['Status', [syncBadge(e.status, EDGE_STATUS_LABEL[e.status]), e.statusMessage ? h('span', { class: 'status-message' }, e.statusMessage) : null]],
        ['Last seen', [lastSeen(e), h('span', { class: 'muted' }, ` · ${fmtDate(e.lastSeenAt)}`)]],
        ['Lag', lag(e)],
        ['Pending at the edge', e.outboxDepth === null || e.outboxDepth === undefined ? 'no checkpoint yet' : `${e.outboxDepth} in its outbox`],
        ['Applied here', `up to position ${e.appliedSeq}${e.lastAppliedAt ? ` · last ${fmtDate(e.lastAppliedAt)}` : ''}`],
        ['Down stream', `sent up to ${e.downSeq}; the edge has read up to ${e.downCursor ?? '—'}`],
        ['Conflicts', String(e.conflicts)],
        ['Rejected', String(e.rejected)],
        ['App version', e.appVersion ? `${e.appVersion}${e.schemaVersion !== null && e.schemaVersion !== undefined ? ` · schema ${e.schemaVersion}` : ''}` : '—'],
        ['Enrolled', fmtDate(e.enrolledAt)],
        ['Host', h('span', { class: 'mono' }, e.host || 'not reported yet')],
        ['Epoch', h('span', { class: 'mono' }, e.epoch)],
      ]),
    );
  } catch (err) {
    mount(edgeBox, errorAlert(err));
  }
  return undefined;
}

// ---------- an edge: its own link ----------

/** The link's state in words: what is wrong and what to do about it. */
export function stateSentence(s) {
  const command = (c) => h('code', {}, c);
  switch (s.state) {
    case 'ok':
      return ['In sync with central', s.message ? `: ${s.message}` : '.'];
    case 'offline':
      return `Offline: ${s.message || 'central cannot be reached'}`;
    case 'reenroll':
      return ['Must be re-enrolled: run ', command('essp edge enroll'), '.'];
    case 'rebootstrap':
      return ['Re-bootstrap needed: run ', command('essp edge enroll --renew'), '.'];
    default:
      return SYNC_STATE_LABEL[s.state] || s.state || 'Unknown state';
  }
}

function statusBlock(s) {
  const kind = { ok: 'ok', offline: 'warn' }[s.state] || 'error';
  const detail = ['reenroll', 'rebootstrap'].includes(s.state) && s.message ? h('p', {}, s.message) : null;
  return [
    h(
      'div',
      { class: ['alert', kind], role: kind === 'ok' ? 'status' : null, 'data-sync-state': s.state },
      h('p', {}, h('strong', {}, stateSentence(s))),
      detail,
    ),
    props([
      ['Last contact', s.lastContact ? [timeAgo(s.lastContact), h('span', { class: 'muted' }, ` · ${fmtDate(s.lastContact)}`)] : 'never'],
      ['Pending changes', h('span', { 'data-count': 'pending' }, String(s.outboxDepth))],
      ['Confirmed by central', `up to position ${s.confirmedSeq} of ${s.lastSeq}`],
      ['Down stream read up to', String(s.downCursor)],
    ]),
  ];
}

async function edgeView(view, query) {
  const statusBox = h('div', { 'data-sync': 'status', 'aria-live': 'polite' }, loading());
  const problems = alertBox();
  let syncNow = null;
  if (session.can('sync:admin')) {
    syncNow = h('button', { type: 'button', 'data-action': 'sync-now' }, 'Sync now');
    syncNow.addEventListener('click', async () => {
      syncNow.textContent = 'Syncing…';
      syncNow.setAttribute('aria-busy', 'true');
      const s = await run(syncNow, () => api('/v1/sync/now', { method: 'POST' }), { alertBox: problems });
      syncNow.textContent = 'Sync now';
      syncNow.removeAttribute('aria-busy');
      if (s) {
        mount(statusBox, statusBlock(s));
        toast(s.state === 'ok' ? 'Synced with central' : `Sync finished: ${SYNC_STATE_LABEL[s.state] || s.state}`);
      } else {
        // The attempt failed (shown above the button): the state may have changed too.
        api('/v1/sync/status').then((st) => mount(statusBox, statusBlock(st))).catch(() => {});
      }
    });
  }
  mount(
    view,
    h('h1', {}, 'Sync'),
    panel(
      'Link to central',
      h('p', { class: 'muted' }, 'This school box works offline and sends its changes to central whenever the link is up.'),
      statusBox,
      problems,
      syncNow ? h('div', { class: 'actions sync-actions' }, syncNow, h('span', { class: 'hint' }, 'Sends pending changes and checks in with central now.')) : null,
    ),
    logs(syncSchool(''), query),
  );
  try {
    mount(statusBox, statusBlock(await api('/v1/sync/status')));
  } catch (err) {
    mount(statusBox, errorAlert(err));
  }
}
