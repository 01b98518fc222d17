// One project: phases with their checklist and gate, surveys, and the
// bill of quantities.

import { api } from '../api.js';
import { BOQ_CATEGORIES, OWNER_ROLES, PHASE_STATUSES, PHASE_TYPES, ROOM_TYPES } from '../enums.js';
import { session } from '../session.js';
import { h, mount, actionButton, alertBox, badge, compact, dataTable, errorAlert, fmtDate, form, label, loading, money, options, panel, props, tabs } from '../ui.js';

export default async function project(view, params, query) {
  const p = await api(`/v1/projects/${encodeURIComponent(params.id)}`);
  const canEdit = session.can('project:update');
  mount(
    view,
    h('p', {}, h('a', { href: '#/projects' }, '← Projects')),
    h('h1', {}, `Project · ${label(p.projectType)}`),
    panel('Details', props([
      ['Status', badge(p.status)],
      ['Current phase', label(p.currentPhase)],
      ['Notes', p.notes],
      ['Started', `${fmtDate(p.createdAt)} by ${p.createdBy}`],
      ['Id', h('span', { class: 'mono' }, p.id)],
    ])),
    tabs(
      [
        { id: 'phases', label: 'Phases', render: (el) => phasesTab(el, p, canEdit) },
        { id: 'surveys', label: 'Surveys', render: (el) => surveysTab(el, p, canEdit) },
        { id: 'boq', label: 'Bill of quantities', render: (el) => boqTab(el, p, canEdit) },
      ],
      { selected: query.tab },
    ),
  );
}

async function refreshing(el, load) {
  mount(el, loading());
  try {
    mount(el, await load());
  } catch (err) {
    mount(el, errorAlert(err));
  }
}

function phasesTab(el, p, canEdit) {
  const list = h('div', {});
  const problems = alertBox();
  const refresh = () => refreshing(list, async () => {
    const phases = (await api(`/v1/projects/${p.id}/phases`)).items;
    return phases.length ? phases.map((ph) => phaseCard(ph, canEdit, problems, refresh)) : h('p', { class: 'empty' }, 'No phase yet.');
  });
  refresh();
  mount(
    el,
    problems,
    list,
    canEdit
      ? panel('Add a phase', form({
          name: 'phase',
          submit: 'Add phase',
          fields: [
            { name: 'phaseType', label: 'Phase', type: 'select', options: options(PHASE_TYPES) },
            { name: 'ownerRole', label: 'Owner', type: 'select', options: options(OWNER_ROLES) },
            { name: 'notes', label: 'Notes' },
          ],
          onSubmit: async (v) => {
            await api(`/v1/projects/${p.id}/phases`, { method: 'POST', body: compact(v), idempotent: true });
            await refresh();
          },
        }))
      : null,
  );
}

/** A phase: status moves (done only through the gate) and its checklist. */
function phaseCard(ph, canEdit, problems, refresh) {
  const checklist = h('div', {}, loading());
  api(`/v1/phases/${ph.id}/checklist`)
    .then((r) => {
      const required = r.items.filter((i) => i.required);
      const open = required.filter((i) => !i.done).length;
      mount(
        checklist,
        h('p', { class: open ? 'sla-soon' : 'muted' }, open ? `Gate: ${open} required item(s) still open.` : 'Gate: every required checklist item is done.'),
        r.items.length
          ? h('ul', { class: 'plain' }, r.items.map((i) => {
              const id = `cki-${i.id}`;
              const box = h('input', { type: 'checkbox', id, checked: i.done, disabled: !canEdit });
              box.addEventListener('change', async () => {
                box.disabled = true;
                try {
                  await api(`/v1/phases/${ph.id}/checklist/${i.id}`, { method: 'PATCH', body: { done: box.checked } });
                  await refresh();
                } catch (err) {
                  box.checked = !box.checked;
                  box.disabled = false;
                  problems.replaceChildren(errorAlert(err));
                }
              });
              return h('li', { class: 'field check' }, box, h('label', { for: id }, i.title, i.required ? ' (required)' : ''), i.done ? h('span', { class: 'muted' }, ` · ${i.doneBy} ${fmtDate(i.doneAt)}`) : null);
            }))
          : h('p', { class: 'muted' }, 'No checklist items.'),
      );
    })
    .catch((err) => mount(checklist, errorAlert(err)));
  const moves = canEdit
    ? PHASE_STATUSES.filter((s) => s !== ph.status).map((s) =>
        actionButton(`Mark ${label(s)}`, async () => {
          await api(`/v1/phases/${ph.id}/status`, { method: 'PATCH', body: { status: s } });
          await refresh();
        }, { done: `Phase ${label(s)}`, alertBox: problems, kind: 'secondary' }),
      )
    : [];
  return panel(`${label(ph.phaseType)} phase`, h('p', {}, badge(ph.status), ` owner: ${label(ph.ownerRole)}`), checklist, moves.length ? h('div', { class: 'actions' }, moves) : null);
}

/** Words for the action that moves a survey to a status. */
const SURVEY_MOVE = { submitted: 'Submit', approved: 'Approve', draft: 'Back to draft' };

/** A survey's rooms, in words. */
const roomList = (s) =>
  s.rooms.length
    ? h('ul', { class: 'plain', 'data-rooms': s.id }, s.rooms.map((r) => h('li', {}, `${r.name} · ${label(r.roomType)}${r.floor ? ` · floor ${r.floor}` : ''}`)))
    : h('span', { 'data-rooms': s.id }, 'No room yet');

/** Adding a room to a draft survey. */
const roomForm = (s, refresh) =>
  panel(`Add a room to “${s.summary || s.id}”`, form({
    name: `room-${s.id}`,
    submit: 'Add room',
    fields: [
      { name: 'name', label: 'Room name' },
      { name: 'roomType', label: 'Room type', type: 'select', options: options(ROOM_TYPES) },
      { name: 'floor', label: 'Floor' },
      { name: 'powerNotes', label: 'Power', type: 'textarea' },
      { name: 'networkNotes', label: 'Network', type: 'textarea' },
    ],
    onSubmit: async (v) => {
      await api(`/v1/surveys/${s.id}/rooms`, { method: 'POST', body: compact(v), idempotent: true });
      await refresh();
    },
  }));

function surveysTab(el, p, canEdit) {
  const list = h('div', {});
  const problems = alertBox();
  const refresh = () => refreshing(list, async () => {
    // The list leaves rooms out: each survey is read whole.
    const { items } = await api(`/v1/projects/${p.id}/surveys`);
    const surveys = await Promise.all(items.map((s) => api(`/v1/surveys/${s.id}`)));
    return [
      dataTable(
        [
          { label: 'Survey', value: (s) => s.summary || s.id },
          { label: 'Status', value: (s) => badge(s.status) },
          { label: 'Rooms', value: roomList },
          { label: 'By', value: (s) => `${s.conductedBy} · ${fmtDate(s.createdAt)}` },
          {
            label: 'Actions',
            value: (s) => {
              if (!canEdit) return '—';
              const next = { draft: ['submitted'], submitted: ['approved', 'draft'], approved: [] }[s.status] || [];
              return h('div', { class: 'actions' }, next.map((to) => actionButton(SURVEY_MOVE[to], async () => {
                await api(`/v1/surveys/${s.id}/status`, { method: 'PATCH', body: { status: to } });
                await refresh();
              }, { alertBox: problems, kind: 'secondary' })));
            },
          },
        ],
        surveys,
        { empty: 'No survey yet.' },
      ),
      canEdit ? surveys.filter((s) => s.status === 'draft').map((s) => roomForm(s, refresh)) : null,
    ];
  });
  refresh();
  mount(el, problems, list, canEdit ? panel('Start a survey', form({
    name: 'survey',
    submit: 'Start survey',
    fields: [{ name: 'summary', label: 'Summary', type: 'textarea' }, { name: 'risks', label: 'Risks', type: 'textarea' }],
    onSubmit: async (v, f) => {
      await api(`/v1/projects/${p.id}/surveys`, { method: 'POST', body: compact(v), idempotent: true });
      f.reset();
      await refresh();
    },
  })) : null);
}

function boqTab(el, p, canEdit) {
  const list = h('div', {});
  const problems = alertBox();
  const refresh = () => refreshing(list, async () => dataTable(
    [
      { label: 'Line', value: (b) => b.description },
      { label: 'Category', value: (b) => label(b.category) },
      { label: 'Qty', value: (b) => `${b.qty} ${b.unit}` },
      { label: 'Estimate', value: (b) => money(b.estimatedCostCents) },
      { label: 'Approved', value: (b) => badge(b.approved ? 'approved' : 'pending') },
      {
        label: 'Actions',
        value: (b) => (canEdit ? actionButton(b.approved ? 'Withdraw approval' : 'Approve', async () => {
          await api(`/v1/projects/${p.id}/boq/items/${b.id}/approval`, { method: 'PATCH', body: { approved: !b.approved } });
          await refresh();
        }, { alertBox: problems, kind: 'secondary' }) : '—'),
      },
    ],
    (await api(`/v1/projects/${p.id}/boq`)).items,
    { empty: 'No line yet.' },
  ));
  refresh();
  mount(el, problems, list, canEdit ? panel('Add a line', form({
    name: 'boq',
    submit: 'Add line',
    fields: [
      { name: 'description', label: 'Description' },
      { name: 'category', label: 'Category', type: 'select', options: options(BOQ_CATEGORIES) },
      { name: 'qty', label: 'Quantity', type: 'number', min: 1, value: 1 },
      { name: 'unit', label: 'Unit', value: 'each' },
      { name: 'estimatedCostCents', label: 'Estimate (cents)', type: 'number', min: 0 },
      { name: 'partId', label: 'Part id (optional)', placeholder: 'part_…' },
    ],
    onSubmit: async (v) => {
      await api(`/v1/projects/${p.id}/boq/items`, { method: 'POST', body: compact(v), idempotent: true });
      await refresh();
    },
  })) : null);
}
