// Incidents of the selected school: filters, cursor paging, report button.

import { INCIDENT_STATUSES, SEVERITIES } from '../enums.js';
import { cursorPages, filterForm, pagedList } from '../list.js';
import { session } from '../session.js';
import { h, mount, badge, fmtDate, options, slaClock } from '../ui.js';

export const incidentColumns = [
  { label: 'Title', value: (i) => h('a', { href: `#/incidents/${i.id}` }, i.title) },
  { label: 'Status', value: (i) => badge(i.status) },
  { label: 'Severity', value: (i) => badge(i.severity) },
  { label: 'Device', value: (i) => [i.deviceSerial || i.deviceId, i.deviceModel ? ` · ${i.deviceMake} ${i.deviceModel}` : ''] },
  { label: 'SLA', value: slaClock },
  { label: 'Reported', value: (i) => fmtDate(i.createdAt) },
];

export default async function incidents(view, _params, query) {
  const filters = filterForm('/incidents', [
    { name: 'status', label: 'Status', type: 'select', options: options(INCIDENT_STATUSES, 'Any status') },
    { name: 'severity', label: 'Severity', type: 'select', options: options(SEVERITIES, 'Any severity') },
    { name: 'q', label: 'Search title and description', type: 'search' },
    { name: 'slaBreached', label: 'SLA', type: 'select', options: [['', 'Any'], ['true', 'Breached'], ['false', 'Not breached']] },
  ], query);
  const list = pagedList({
    pages: cursorPages('/v1/incidents', query),
    columns: incidentColumns,
    empty: 'No incident matches.',
  });
  mount(
    view,
    h(
      'div',
      { class: 'toolbar' },
      h('h1', {}, 'Incidents'),
      session.can('incident:create') ? h('a', { class: 'button', href: '#/incidents/new', 'data-action': 'new-incident' }, 'Report incident') : null,
    ),
    h('details', { class: 'panel', open: window.innerWidth >= 700 || Object.keys(query).length > 0 }, h('summary', {}, 'Filters'), filters),
    list.el,
  );
}
