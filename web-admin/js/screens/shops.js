// Service shops (where repairs are routed) and their staff.

import { api } from '../api.js';
import { COVERAGE_LEVELS, STAFF_ROLES } from '../enums.js';
import { cursorPages, filterForm, pagedList } from '../list.js';
import { named } from '../names.js';
import { session } from '../session.js';
import { h, mount, actionButton, badge, compact, form, label, options, panel, tabs } from '../ui.js';

export default async function shops(view, _params, query) {
  mount(
    view,
    h('h1', {}, 'Service shops and staff'),
    tabs(
      [
        { id: 'shops', label: 'Shops', render: (p) => shopsTab(p, query) },
        session.can('servicestaff:read') && { id: 'staff', label: 'Staff', render: (p) => staffTab(p, query) },
      ].filter(Boolean),
      { selected: query.tab },
    ),
  );
}

const activeToggle = (path, row, reload, what) =>
  session.can(`${what}:update`)
    ? actionButton(row.active ? 'Deactivate' : 'Activate', async () => {
        await api(`${path}/${row.id}`, { method: 'PATCH', body: { active: !row.active }, ifMatch: row.version });
        reload();
      }, { done: row.active ? 'Deactivated' : 'Activated', kind: 'secondary' })
    : '—';

function shopsTab(p, query) {
  const filters = filterForm('/shops', [
    { name: 'countyCode', label: 'County code' },
    { name: 'subCountyCode', label: 'Sub-county code' },
    { name: 'active', label: 'Active', type: 'select', options: [['', 'Any'], ['true', 'Active'], ['false', 'Inactive']] },
  ], query, { tab: 'shops' });
  const list = pagedList({
    pages: cursorPages('/v1/service-shops', compact({ countyCode: query.countyCode, subCountyCode: query.subCountyCode, active: query.active })),
    columns: [
      { label: 'Shop', value: (s) => s.name },
      { label: 'Covers', value: (s) => `${label(s.coverageLevel)}: ${s.subCountyName || s.subCountyCode || ''} ${s.countyName || s.countyCode}` },
      { label: 'Location', value: (s) => s.location },
      { label: 'State', value: (s) => badge(s.active ? 'active' : 'inactive') },
      { label: 'Staff', value: (s) => h('a', { href: `#/shops?tab=staff&serviceShopId=${s.id}` }, 'Staff') },
      { label: 'Actions', value: (s) => activeToggle('/v1/service-shops', s, () => list.reload(), 'serviceshop') },
    ],
    empty: 'No service shop matches.',
  });
  mount(
    p,
    h('details', { class: 'panel' }, h('summary', {}, 'Filters'), filters),
    list.el,
    session.can('serviceshop:create')
      ? panel(
          'Add a shop',
          form({
            name: 'shop',
            submit: 'Add shop',
            fields: [
              { name: 'name', label: 'Name' },
              { name: 'location', label: 'Location' },
              { name: 'countyCode', label: 'County code' },
              { name: 'countyName', label: 'County name' },
              { name: 'coverageLevel', label: 'Coverage', type: 'select', options: options(COVERAGE_LEVELS) },
              { name: 'subCountyCode', label: 'Sub-county code', hint: 'Required for sub-county coverage.' },
              { name: 'subCountyName', label: 'Sub-county name' },
            ],
            onSubmit: async (v, f) => {
              await api('/v1/service-shops', { method: 'POST', body: compact(v), idempotent: true });
              f.reset();
              list.reload();
            },
          }),
        )
      : null,
  );
}

function staffTab(p, query) {
  const filters = filterForm('/shops', [
    { name: 'serviceShopId', label: 'Shop id' },
    { name: 'role', label: 'Role', type: 'select', options: options(STAFF_ROLES, 'Any role') },
  ], query, { tab: 'staff' });
  const list = pagedList({
    pages: cursorPages('/v1/service-staff', compact({ serviceShopId: query.serviceShopId, role: query.role })),
    columns: [
      { label: 'User', value: (s) => s.userId },
      { label: 'Role', value: (s) => label(s.role) },
      { label: 'Shop', value: (s) => named('shop', s.serviceShopId) },
      { label: 'Phone', value: (s) => s.phone },
      { label: 'State', value: (s) => badge(s.active ? 'active' : 'inactive') },
      { label: 'Actions', value: (s) => activeToggle('/v1/service-staff', s, () => list.reload(), 'servicestaff') },
    ],
    empty: 'No staff match.',
  });
  mount(
    p,
    h('details', { class: 'panel' }, h('summary', {}, 'Filters'), filters),
    list.el,
    session.can('servicestaff:create')
      ? panel(
          'Add a staff member',
          form({
            name: 'staff',
            submit: 'Add staff member',
            fields: [
              { name: 'serviceShopId', label: 'Shop id', value: query.serviceShopId || '', placeholder: 'shop_…' },
              { name: 'userId', label: 'User id (the sign-in subject)' },
              { name: 'role', label: 'Role', type: 'select', options: options(STAFF_ROLES) },
              { name: 'phone', label: 'Phone', type: 'tel', hint: 'International format, e.g. +254712345678' },
            ],
            onSubmit: async (v, f) => {
              await api('/v1/service-staff', { method: 'POST', body: compact(v), idempotent: true });
              f.reset();
              list.reload();
            },
          }),
        )
      : null,
  );
}
