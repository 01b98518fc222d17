// Reference data (the SSOT, as IMS sees it): schools by county and
// sub-county, devices, device models, parts; CSV import with a per-row
// error report.

import { api, ApiError } from '../api.js';
import { CSV_KINDS } from '../enums.js';
import { filterForm, offsetPages, pagedList } from '../list.js';
import { session } from '../session.js';
import { h, mount, compact, dataTable, errorAlert, field, form, label, options, panel, tabs } from '../ui.js';

export default async function ssot(view, _params, query) {
  mount(
    view,
    h('h1', {}, 'Reference data'),
    tabs(
      [
        { id: 'schools', label: 'Schools', render: (p) => schoolsTab(p, query) },
        { id: 'devices', label: 'Devices', render: (p) => browseTab(p, query, devices) },
        { id: 'models', label: 'Device models', render: (p) => browseTab(p, query, models) },
        { id: 'parts', label: 'Parts', render: (p) => browseTab(p, query, parts) },
        session.can('ssot:write') && { id: 'import', label: 'CSV import', render: importTab },
      ].filter(Boolean),
      { selected: query.tab },
    ),
  );
}

const mono = (v) => h('span', { class: 'mono' }, v);

/** A browse tab: filters in the URL, offset paging. */
function browseTab(p, query, spec) {
  const values = compact(Object.fromEntries(spec.filters.map((f) => [f.name, query[f.name] ?? f.value])));
  mount(
    p,
    h('details', { class: 'panel', open: true }, h('summary', {}, 'Filters'), filterForm('/ssot', spec.filters, { ...values }, { tab: spec.tab })),
    pagedList({ pages: offsetPages(spec.path, values), columns: spec.columns, empty: 'No row matches.' }).el,
  );
}

const devices = {
  tab: 'devices',
  path: '/v1/ssot/devices',
  filters: [
    { name: 'q', label: 'Serial, asset tag or user', type: 'search' },
    { name: 'schoolId', label: 'School id', get value() { return session.school; } },
    { name: 'status', label: 'Lifecycle', type: 'select', options: options(['in_stock', 'deployed', 'in_repair', 'retired', 'lost'], 'Any') },
  ],
  columns: [
    { label: 'Serial', value: (d) => d.serial },
    { label: 'Asset tag', value: (d) => d.assetTag },
    { label: 'Model', value: (d) => d.deviceModelName },
    { label: 'School', value: (d) => d.schoolName },
    { label: 'Lifecycle', value: (d) => label(d.lifecycle) },
    { label: 'Id', value: (d) => mono(d.id) },
  ],
};

const models = {
  tab: 'models',
  path: '/v1/ssot/device-models',
  filters: [
    { name: 'q', label: 'Make or model', type: 'search' },
    { name: 'category', label: 'Category', type: 'select', options: options(['laptop', 'tablet', 'desktop', 'projector', 'printer', 'network', 'server', 'other'], 'Any') },
  ],
  columns: [
    { label: 'Make', value: (m) => m.make },
    { label: 'Model', value: (m) => m.model },
    { label: 'Category', value: (m) => label(m.category) },
    { label: 'Id', value: (m) => mono(m.id) },
  ],
};

const parts = {
  tab: 'parts',
  path: '/v1/ssot/parts',
  filters: [
    { name: 'q', label: 'Name, PUK or SKU', type: 'search' },
    { name: 'category', label: 'Category', type: 'select', options: options(['screen', 'keyboard', 'battery', 'charger', 'storage', 'memory', 'motherboard', 'hinge', 'casing', 'cable', 'network', 'misc'], 'Any') },
  ],
  columns: [
    { label: 'Part', value: (x) => x.name },
    { label: 'PUK', value: (x) => x.puk },
    { label: 'SKU', value: (x) => x.sku },
    { label: 'Category', value: (x) => label(x.category) },
    { label: 'Unit cost', value: (x) => (typeof x.unitCostCents === 'number' ? (x.unitCostCents / 100).toFixed(2) : '—') },
    { label: 'Id', value: (x) => mono(x.id) },
  ],
};

/** Schools, with the sub-county choice following the county. */
async function schoolsTab(p, query) {
  const counties = await api('/v1/ssot/schools/counties', { query: { limit: 200 } });
  const subs = query.countyId ? (await api('/v1/ssot/schools/sub-counties', { query: { countyId: query.countyId, limit: 200 } })).items : [];
  const filters = filterForm(
    '/ssot',
    [
      { name: 'q', label: 'Name or code', type: 'search' },
      { name: 'countyId', label: 'County', type: 'select', options: [['', 'Any county'], ...counties.items.map((c) => [c.id, c.name])] },
      { name: 'subCountyId', label: 'Sub-county', type: 'select', options: [['', query.countyId ? 'Any sub-county' : 'Choose a county first'], ...subs.map((s) => [s.id, s.name])] },
    ],
    query,
    { tab: 'schools' },
  );
  // A new county invalidates the sub-county: apply at once so the list follows.
  filters.querySelector('[name="countyId"]').addEventListener('change', () => {
    filters.querySelector('[name="subCountyId"]').value = '';
    filters.requestSubmit();
  });
  const use = (s) =>
    s.id === session.school
      ? h('span', { class: 'badge ok' }, 'Current')
      : h('button', { type: 'button', class: 'secondary', onclick: () => { session.setSchool(s.id); location.reload(); } }, 'Work in this school');
  mount(
    p,
    h('details', { class: 'panel', open: true }, h('summary', {}, 'Filters'), filters),
    pagedList({
      pages: offsetPages('/v1/ssot/schools', compact({ q: query.q, countyId: query.countyId, subCountyId: query.subCountyId })),
      columns: [
        { label: 'School', value: (s) => s.name },
        { label: 'Code', value: (s) => s.code },
        { label: 'County', value: (s) => s.countyName },
        { label: 'Sub-county', value: (s) => s.subCountyName },
        { label: 'Level', value: (s) => label(s.level) },
        { label: 'Type', value: (s) => label(s.type) },
        { label: '', value: use, noLabel: true },
      ],
      empty: 'No school matches.',
    }).el,
  );
}

/** CSV import: dry run or for real; the report lists every rejected row. */
function importTab(p) {
  const report = h('div', { 'aria-live': 'polite', 'data-result': 'import' });
  const show = (r, ok) =>
    mount(
      report,
      h(
        'div',
        { class: ['alert', ok ? 'ok' : 'error'], role: ok ? 'status' : 'alert' },
        h('p', {}, h('strong', {}, ok ? (r.committed ? 'Imported' : 'Dry run passed: nothing written') : r.detail || 'Import rejected')),
        h('p', {}, `${r.rows} rows: ${r.created} new, ${r.updated} changed, ${r.unchanged} unchanged, ${r.errorCount} errors.`),
      ),
      r.errors?.length
        ? dataTable(
            [
              { label: 'Line', value: (e) => String(e.line) },
              { label: 'Field', value: (e) => e.field },
              { label: 'Problem', value: (e) => e.message },
            ],
            r.errors,
            { caption: r.errorCount > r.errors.length ? `First ${r.errors.length} of ${r.errorCount} errors` : 'Rows rejected' },
          )
        : null,
    );
  mount(
    p,
    panel(
      'Import a CSV file',
      h('p', { class: 'muted' }, 'Columns are the kind’s field names (plus an optional id); references may be given by code (countyCode, schoolCode, partPuk…). The whole file is one transaction: any error writes nothing.'),
      form({
        name: 'import',
        submit: 'Upload and import',
        fields: [
          { name: 'kind', label: 'What the file holds', type: 'select', options: options(CSV_KINDS) },
          field({ name: 'file', label: 'CSV file', type: 'file', accept: '.csv,text/csv' }),
          { name: 'dryRun', label: 'Dry run (check only, write nothing)', type: 'checkbox', value: true },
        ],
        onSubmit: async (v) => {
          if (!v.file) throw new Error('Choose a CSV file first.');
          try {
            const r = await api(`/v1/import/csv/${v.kind}`, { method: 'POST', query: { dryRun: v.dryRun ? 'true' : 'false' }, file: v.file, contentType: 'text/csv' });
            show(r, true);
          } catch (err) {
            if (err instanceof ApiError && err.code === 'import-rejected') show(err.problem, false);
            else {
              mount(report, errorAlert(err));
              throw err;
            }
          }
        },
      }),
    ),
    report,
  );
}
