// Panels shared by detail screens: attachments (with a phone-camera
// upload) and the audit trail of one record, with before/after diffs.

import { api } from './api.js';
import { session } from './session.js';
import { h, mount, fmtDate, errorAlert, loading, form, toast, label } from './ui.js';

/** Attachments of an incident / work order / survey, and an upload form. */
export function attachmentsPanel(entityType, entityId) {
  const list = h('div', { class: 'thumbs', 'data-list': 'attachments' });
  const refresh = async () => {
    mount(list, loading());
    try {
      const { items } = await api('/v1/attachments', { query: { entityType, entityId } });
      if (!items.length) return mount(list, h('p', { class: 'muted' }, 'No attachments yet.'));
      mount(list, items.map(figure));
    } catch (err) {
      mount(list, errorAlert(err));
    }
    return undefined;
  };
  const upload = session.can('attachment:create')
    ? form({
        name: 'upload',
        submit: 'Upload',
        fields: [
          {
            name: 'file',
            label: 'Photo or document',
            type: 'file',
            accept: 'image/*,application/pdf,text/plain',
            capture: 'environment',
            hint: 'On a phone this opens the camera. JPEG, PNG, WebP, HEIC, PDF or text.',
          },
        ],
        onSubmit: async ({ file }, f) => {
          if (!file) throw new Error('Choose a file or take a photo first.');
          await api('/v1/attachments', {
            method: 'POST',
            query: { entityType, entityId, fileName: file.name || 'photo.jpg' },
            file,
            contentType: file.type || guessType(file.name),
          });
          f.reset();
          toast('Uploaded');
          await refresh();
        },
      })
    : null;
  refresh();
  return h('div', {}, list, upload);
}

function guessType(name = '') {
  const ext = name.toLowerCase().split('.').pop();
  return { jpg: 'image/jpeg', jpeg: 'image/jpeg', png: 'image/png', webp: 'image/webp', heic: 'image/heic', pdf: 'application/pdf', txt: 'text/plain' }[ext] || 'application/octet-stream';
}

/** One attachment: an image preview (fetched with the token) or a download button. */
function figure(a) {
  const caption = h('figcaption', {}, a.fileName, h('br'), `${Math.ceil(a.sizeBytes / 1024)} KB · ${fmtDate(a.createdAt)}`);
  const fetchBlob = () => api(`/v1/attachments/${a.id}/content`, { as: 'blob' });
  if (a.contentType.startsWith('image/') && a.contentType !== 'image/heic') {
    const img = h('img', { alt: `Attachment ${a.fileName}` });
    fetchBlob()
      .then((b) => (img.src = URL.createObjectURL(b)))
      .catch((err) => img.replaceWith(errorAlert(err)));
    return h('figure', { 'data-attachment': a.id }, img, caption);
  }
  const open = h('button', { type: 'button', class: 'secondary' }, `Download ${a.fileName}`);
  open.addEventListener('click', async () => {
    try {
      const url = URL.createObjectURL(await fetchBlob());
      const link = h('a', { href: url, download: a.fileName });
      document.body.append(link);
      link.click();
      link.remove();
    } catch (err) {
      toast(err.message, 'error');
    }
  });
  return h('figure', { 'data-attachment': a.id }, open, caption);
}

/** The audit entries of one record, newest first. */
export function auditTrail(entityType, entityId) {
  const box = h('div', { 'data-list': 'audit' }, loading());
  if (!session.can('audit:read')) {
    return mount(box, h('p', { class: 'muted' }, 'You cannot read the audit trail.'));
  }
  api('/v1/audit-logs', { query: { entityType, entityId, limit: 100 } })
    .then((page) =>
      mount(box, page.items.length ? page.items.map(auditEntry) : h('p', { class: 'muted' }, 'No audit entries.')),
    )
    .catch((err) => mount(box, errorAlert(err)));
  return box;
}

/** One audit entry: who did what when, with the fields it changed. */
export function auditEntry(e) {
  return h(
    'details',
    { class: 'entry' },
    h('summary', {}, h('strong', {}, label(e.action)), ` ${label(e.entityType)} · ${e.actor} · ${fmtDate(e.createdAt)}`),
    h('p', { class: 'muted mono' }, `${e.entityId} · seq ${e.seq ?? 'unsealed'} · request ${e.requestId || '—'}`),
    diffTable(e.before, e.after),
  );
}

const show = (v) => (v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v));

/** The fields that differ between before and after (all of after for a creation). */
export function diffTable(before, after) {
  const b = before || {};
  const a = after || {};
  const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])].filter(
    (k) => JSON.stringify(b[k]) !== JSON.stringify(a[k]) && !['updatedAt', 'version'].includes(k),
  );
  if (!keys.length) return h('p', { class: 'muted' }, 'No field changed.');
  return h(
    'table',
    { class: 'diff' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, 'Before'), h('th', { scope: 'col' }, 'After'))),
    h(
      'tbody',
      {},
      keys.map((k) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', { class: 'before' }, show(b[k])), h('td', { class: 'after' }, show(a[k])))),
    ),
  );
}
