// The tenant's audit log: filters, before/after diffs, and the
// hash-chain verification result.

import { api } from '../api.js';
import { filterForm } from '../list.js';
import { auditEntry } from '../panels.js';
import { h, mount, actionButton, alertBox, compact, errorAlert, loading, panel } from '../ui.js';

export default async function audit(view, _params, query) {
  const filters = filterForm('/audit', [
    { name: 'entityType', label: 'Entity type', placeholder: 'incident, work_order, schools…' },
    { name: 'entityId', label: 'Entity id' },
    { name: 'userId', label: 'Actor' },
    { name: 'action', label: 'Action', placeholder: 'create, status_change…' },
    { name: 'startDate', label: 'From', type: 'date' },
    { name: 'endDate', label: 'Until', type: 'date' },
  ], query);
  const verdict = h('div', { 'aria-live': 'polite', 'data-result': 'verify' });
  const problems = alertBox();
  const verify = actionButton('Verify the hash chain', async () => {
    const r = await api('/v1/audit-logs/verify');
    mount(
      verdict,
      h(
        'div',
        { class: ['alert', r.valid ? 'ok' : 'error'], role: r.valid ? 'status' : 'alert' },
        h('p', {}, h('strong', {}, r.valid ? 'The chain is intact.' : 'The chain is broken.')),
        h('p', {}, `${r.entries} sealed entries checked; ${r.unsealed} not sealed yet.`),
        r.problem ? h('p', {}, `First problem: ${r.problem}`) : null,
      ),
    );
  }, { alertBox: problems, name: 'verify' });

  const entries = h('div', { 'data-list': 'audit' });
  let cursor;
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
  const load = async () => {
    more.disabled = true;
    try {
      const page = await api('/v1/audit-logs', { query: { ...compact({ entityType: query.entityType, entityId: query.entityId, userId: query.userId, action: query.action, startDate: query.startDate, endDate: query.endDate }), cursor, limit: 50 } });
      if (!cursor) entries.replaceChildren();
      entries.append(...page.items.map(auditEntry));
      if (!entries.children.length) entries.append(h('p', { class: 'empty' }, 'No audit entry matches.'));
      cursor = page.nextCursor;
      more.hidden = !cursor;
    } catch (err) {
      entries.append(errorAlert(err));
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener('click', load);
  mount(
    view,
    h('h1', {}, 'Audit log'),
    panel('Integrity', problems, h('p', { class: 'muted' }, 'Every change is chained by hash; verification re-computes the whole chain.'), verify, verdict),
    h('details', { class: 'panel', open: window.innerWidth >= 700 }, h('summary', {}, 'Filters'), filters),
    entries,
    h('div', { class: 'pager' }, more),
  );
  mount(entries, loading());
  await load();
}
