// Report an incident: find the device by serial or asset tag in the
// school's devices, warn when it already has an open incident, then send.

import { api } from '../api.js';
import { CATEGORIES, OPEN_INCIDENT_STATUSES, SEVERITIES } from '../enums.js';
import { go } from '../router.js';
import { session } from '../session.js';
import { h, mount, badge, errorAlert, form, loading, options, toast, uid } from '../ui.js';

export default async function incidentNew(view) {
  const results = h('div', { 'aria-live': 'polite', 'data-list': 'devices' });
  const warning = h('div', { 'aria-live': 'polite' });
  const searchId = uid('device-search');
  const search = h('input', { id: searchId, type: 'search', autocomplete: 'off', inputmode: 'text' });

  const report = form({
    name: 'incident',
    submit: 'Report incident',
    fields: [
      { name: 'deviceId', label: 'Device id', hint: 'Filled in when you pick a device above.', required: true },
      { name: 'title', label: 'Title', required: true, placeholder: 'e.g. Cracked screen' },
      { name: 'category', label: 'Category', type: 'select', options: options(CATEGORIES), value: 'hardware' },
      { name: 'severity', label: 'Severity', type: 'select', options: options(SEVERITIES), value: 'medium', hint: 'Sets the SLA window.' },
      { name: 'description', label: 'Description', type: 'textarea', max: 5000 },
    ],
    onSubmit: async (values) => {
      const created = await api('/v1/incidents', { method: 'POST', body: values, idempotent: true });
      toast('Incident reported');
      go(`/incidents/${created.id}`);
    },
  });
  const deviceInput = report.querySelector('[name="deviceId"]');

  async function pick(device) {
    deviceInput.value = device.id;
    mount(warning, loading('Checking for open incidents…'));
    try {
      const page = await api('/v1/incidents', { query: { deviceId: device.id, limit: 50 } });
      const open = page.items.filter((i) => OPEN_INCIDENT_STATUSES.includes(i.status));
      mount(
        warning,
        open.length
          ? h(
              'div',
              { class: 'alert warn', role: 'alert', 'data-warning': 'duplicate' },
              h('p', {}, h('strong', {}, `This device already has ${open.length} open incident(s).`), ' Check it is not the same fault:'),
              h('ul', {}, open.map((i) => h('li', {}, h('a', { href: `#/incidents/${i.id}` }, i.title), ' ', badge(i.status)))),
            )
          : h('p', { class: 'alert ok' }, `Selected ${device.serial}${device.assetTag ? ` (${device.assetTag})` : ''}: no open incident.`),
      );
    } catch (err) {
      mount(warning, errorAlert(err));
    }
  }

  async function find(e) {
    e?.preventDefault();
    const q = search.value.trim();
    if (!q) return mount(results, h('p', { class: 'field-error' }, 'Type a serial number or asset tag.'));
    mount(results, loading('Searching…'));
    try {
      const page = await api('/v1/ssot/devices', { query: { schoolId: session.school, q, limit: 10 } });
      if (!page.items.length) return mount(results, h('p', { class: 'alert warn' }, `No device of this school matches “${q}”.`));
      const name = uid('device');
      return mount(
        results,
        h(
          'fieldset',
          {},
          h('legend', {}, 'Matching devices'),
          page.items.map((d) => {
            const id = uid('dev');
            const radio = h('input', { type: 'radio', name, id, value: d.id, onchange: () => pick(d) });
            return h(
              'div',
              { class: 'field check' },
              radio,
              h('label', { for: id }, `${d.serial}${d.assetTag ? ` · ${d.assetTag}` : ''} · ${d.deviceModelName || d.deviceModelId} · ${d.lifecycle || ''}`),
            );
          }),
        ),
      );
    } catch (err) {
      return mount(results, errorAlert(err));
    }
  }

  mount(
    view,
    h('h1', {}, 'Report an incident'),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': `${searchId}-h` },
      h('h2', { id: `${searchId}-h` }, '1. Find the device'),
      h(
        'form',
        { class: 'form inline', role: 'search', 'data-form': 'device-search', onsubmit: find },
        h('div', { class: 'field' }, h('label', { for: searchId }, 'Serial number or asset tag'), search),
        h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Find device')),
      ),
      results,
      warning,
    ),
    h('section', { class: 'panel', 'aria-label': 'Describe the fault' }, h('h2', {}, '2. Describe the fault'), report),
  );
}
