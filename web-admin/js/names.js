// Names for ids shown in lists (parts, shops, staff, schools), fetched once and
// cached: the id is shown until the name arrives, and stays if it cannot.

import { api } from './api.js';
import { h } from './ui.js';

const cache = new Map();

const SOURCES = {
  part: (id) => api(`/v1/ssot/part/${encodeURIComponent(id)}`).then((p) => `${p.name} (${p.puk})`),
  shop: (id) => api(`/v1/service-shops/${encodeURIComponent(id)}`).then((s) => s.name),
  school: (id) => api(`/v1/ssot/school/${encodeURIComponent(id)}`).then((s) => (s.code ? `${s.name} (${s.code})` : s.name)),
  staff: (id) => api(`/v1/service-staff/${encodeURIComponent(id)}`).then((s) => `${s.userId} (${s.role.replace(/_/g, ' ')})`),
};

export function nameOf(kind, id) {
  if (!id) return Promise.resolve('');
  const key = `${kind}:${id}`;
  if (!cache.has(key)) cache.set(key, SOURCES[kind](id).catch(() => id));
  return cache.get(key);
}

/** A span showing the id, then the name. */
export function named(kind, id) {
  if (!id) return '—';
  const el = h('span', { title: id }, id);
  nameOf(kind, id).then((n) => (el.textContent = n || id));
  return el;
}
