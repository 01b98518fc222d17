// Inventory: stock per shop and part, reorder alerts, stock takes and the
// ledger of one part at one shop.

import { api } from '../api.js';
import { cursorPages, filterForm, pagedList } from '../list.js';
import { named } from '../names.js';
import { session } from '../session.js';
import { h, mount, compact, dataTable, errorAlert, fmtDate, form, label, panel, tabs } from '../ui.js';

const stockColumns = [
  { label: 'Part', value: (r) => named('part', r.partId) },
  { label: 'Shop', value: (r) => named('shop', r.serviceShopId) },
  { label: 'On hand', value: (r) => String(r.qtyAvailable) },
  { label: 'Reserved', value: (r) => String(r.qtyReserved) },
  { label: 'Free', value: (r) => h('strong', {}, String(r.qtyAvailable - r.qtyReserved)) },
  { label: 'Reorder at', value: (r) => String(r.reorderThreshold) },
  { label: 'Ledger', value: (r) => h('a', { href: `#/inventory?view=ledger&serviceShopId=${r.serviceShopId}&partId=${r.partId}` }, 'Movements') },
];

export default async function inventory(view, _params, query) {
  const scope = compact({ serviceShopId: query.serviceShopId, partId: query.partId });
  mount(
    view,
    h('h1', {}, 'Inventory'),
    tabs(
      [
        { id: 'stock', label: 'Stock', render: (p) => stockTab(p, query, scope) },
        { id: 'low', label: 'Reorder alerts', render: (p) => mount(p, pagedList({ pages: cursorPages('/v1/inventory/low-stock', scope), columns: stockColumns, empty: 'No part is at or below its reorder threshold.' }).el) },
        { id: 'ledger', label: 'Ledger', render: (p) => ledgerTab(p, query) },
      ],
      { selected: query.view },
    ),
  );
}

function stockTab(p, query, scope) {
  const list = pagedList({ pages: cursorPages('/v1/inventory', scope), columns: stockColumns, empty: 'No stock recorded.' });
  mount(
    p,
    h('details', { class: 'panel' }, h('summary', {}, 'Filters'), filterForm('/inventory', [
      { name: 'serviceShopId', label: 'Shop id' },
      { name: 'partId', label: 'Part id' },
    ], query)),
    list.el,
    session.can('inventory:update')
      ? panel(
          'Stock take or delivery',
          h('p', { class: 'muted' }, 'Sets the quantity on hand; reservations are kept and stock below them is refused.'),
          form({
            name: 'stock',
            submit: 'Set stock',
            fields: [
              { name: 'serviceShopId', label: 'Shop id', value: query.serviceShopId || '', placeholder: 'shop_…' },
              { name: 'partId', label: 'Part id', value: query.partId || '', placeholder: 'part_…' },
              { name: 'qtyAvailable', label: 'On hand', type: 'number', min: 0 },
              { name: 'reorderThreshold', label: 'Reorder when free stock is at or below', type: 'number', min: 0 },
            ],
            onSubmit: async (v) => {
              await api('/v1/inventory/upsert', { method: 'POST', body: compact(v) });
              list.reload();
            },
          }),
        )
      : null,
  );
}

async function ledgerTab(p, query) {
  const filters = filterForm('/inventory', [
    { name: 'serviceShopId', label: 'Shop id' },
    { name: 'partId', label: 'Part id' },
  ], query, { view: 'ledger' });
  const out = h('div', {});
  mount(p, panel('Movements of one part at one shop', filters), out);
  if (!query.serviceShopId || !query.partId) return mount(out, h('p', { class: 'muted' }, 'Choose a shop and a part (or follow “Movements” from the stock list).'));
  try {
    const page = await api('/v1/inventory/ledger', { query: { serviceShopId: query.serviceShopId, partId: query.partId, limit: 200 } });
    mount(
      out,
      dataTable(
        [
          { label: 'When', value: (e) => fmtDate(e.createdAt) },
          { label: 'Movement', value: (e) => label(e.movement) },
          { label: 'Qty', value: (e) => String(e.qty) },
          { label: 'On hand after', value: (e) => String(e.availableAfter) },
          { label: 'Reserved after', value: (e) => String(e.reservedAfter) },
          { label: 'Work order', value: (e) => (e.workOrderId ? h('a', { href: `#/work-orders/${e.workOrderId}` }, e.workOrderId) : '—') },
          { label: 'By', value: (e) => e.actor },
        ],
        page.items,
        { empty: 'No movement yet.' },
      ),
    );
  } catch (err) {
    mount(out, errorAlert(err));
  }
  return undefined;
}
