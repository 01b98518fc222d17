// Lists: a filter form kept in the URL, a table (cards on phones) paged
// with the API's cursor (or offset), and optional row selection for bulk
// actions. Every list screen is built from these.

import { api } from './api.js';
import { go } from './router.js';
import { h, mount, dataTable, errorAlert, loading, form, compact } from './ui.js';

/** A page source for `/v1` keyset lists ({items, nextCursor}). */
export const cursorPages = (path, query) => async (cursor) => {
  const page = await api(path, { query: { ...query, cursor } });
  return { items: page.items, next: page.nextCursor || null };
};

/** A page source for SSOT browse lists ({items, total, limit, offset}). */
export const offsetPages = (path, query, limit = 50) => async (offset = 0) => {
  const page = await api(path, { query: { ...query, limit, offset } });
  const next = page.offset + page.items.length;
  return { items: page.items, next: next < page.total ? next : null, total: page.total };
};

/**
 * A paged table. Returns {el, reload}. With `select`, rows get a checkbox
 * (labelled by `select.label(row)`) and `select.onChange(ids)` hears the choice.
 */
export function pagedList({ pages, columns, empty, select, caption }) {
  const el = h('div', { class: 'paged' });
  let rows = [];
  let next = null;
  let total = null;
  const chosen = new Set();

  const cols = select
    ? [
        {
          label: 'Select',
          value: (r) =>
            h('input', {
              type: 'checkbox',
              'aria-label': select.label(r),
              checked: chosen.has(r.id),
              'data-select': r.id,
              onchange: (e) => {
                if (e.target.checked) chosen.add(r.id);
                else chosen.delete(r.id);
                select.onChange([...chosen]);
              },
            }),
        },
        ...columns,
      ]
    : columns;

  const render = (problem) => {
    const more = next !== null ? h('button', { type: 'button', class: 'secondary', onclick: loadMore }, 'Load more') : null;
    mount(
      el,
      problem ? errorAlert(problem) : null,
      total !== null ? h('p', { class: 'muted' }, `${total} in all`) : null,
      dataTable(cols, rows, { empty, caption }),
      h('div', { class: 'pager' }, more),
    );
  };
  async function loadMore(e) {
    if (e?.target) e.target.disabled = true;
    try {
      const page = await pages(next);
      rows = rows.concat(page.items);
      next = page.next;
      if (page.total !== undefined) total = page.total;
      render();
    } catch (err) {
      render(err);
    }
  }
  async function reload() {
    rows = [];
    next = undefined;
    chosen.clear();
    select?.onChange([]);
    mount(el, loading());
    await loadMore();
  }
  reload();
  return { el, reload, selected: () => [...chosen] };
}

/** A filter form whose values become the URL's query (so back/forward work). */
export function filterForm(path, fields, query, extra = {}) {
  return form({
    name: 'filters',
    inline: true,
    submit: 'Apply filters',
    fields: fields.map((f) => ({ ...f, value: query[f.name] ?? f.value ?? '' })),
    onSubmit: async (values) => {
      const q = { ...extra, ...compact(values) };
      for (const [k, v] of Object.entries(q)) if (v === false) delete q[k];
      go(path, q);
    },
  });
}
