// Rollout projects of the selected school.

import { api } from '../api.js';
import { PROJECT_TYPES } from '../enums.js';
import { go } from '../router.js';
import { session } from '../session.js';
import { h, mount, badge, compact, dataTable, fmtDate, form, label, options, panel } from '../ui.js';

export default async function projects(view) {
  const page = await api('/v1/projects');
  mount(
    view,
    h('h1', {}, 'Projects'),
    dataTable(
      [
        { label: 'Project', value: (p) => h('a', { href: `#/projects/${p.id}` }, label(p.projectType)) },
        { label: 'Status', value: (p) => badge(p.status) },
        { label: 'Current phase', value: (p) => label(p.currentPhase) },
        { label: 'Started', value: (p) => `${fmtDate(p.createdAt)} by ${p.createdBy}` },
      ],
      page.items,
      { empty: 'No project at this school.' },
    ),
    session.can('project:update')
      ? panel(
          'Start a project',
          form({
            name: 'project',
            submit: 'Start project',
            fields: [
              { name: 'projectType', label: 'Type', type: 'select', options: options(PROJECT_TYPES) },
              { name: 'notes', label: 'Notes', type: 'textarea' },
            ],
            onSubmit: async (v) => {
              const p = await api('/v1/projects', { method: 'POST', body: compact(v), idempotent: true });
              go(`/projects/${p.id}`);
            },
          }),
        )
      : null,
  );
}
