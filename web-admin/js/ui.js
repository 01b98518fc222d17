// Tiny DOM helpers: elements, tables that collapse to cards, labelled
// forms that show the server's field errors, tabs, toasts and alerts.

import { ApiError } from './api.js';

/** h('a', {href: '#/x', onclick: fn}, 'text', child, [more]) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    else if (k === 'value' || k === 'checked' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let seq = 0;
/** A unique element id. */
export const uid = (p = 'f') => `${p}-${++seq}`;

// ---------- formatting ----------

export function fmtDate(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** How long ago, in words ("just now", "12 min ago", "3 h ago", "never"). */
export function ago(iso, now = Date.now()) {
  if (!iso) return 'never';
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now - t) / 1000);
  if (s < 45) return 'just now';
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return `${hrs} h ago`;
  return `${Math.floor(hrs / 24)} d ago`;
}

/** A <time> saying how long ago, with the date and time as its tooltip. */
export function timeAgo(iso, attrs = {}) {
  if (!iso) return h('span', attrs, 'never');
  return h('time', { datetime: iso, title: fmtDate(iso), ...attrs }, ago(iso));
}

/** A length of time given in seconds, in words ("0 s", "40 s", "12 min", "3 h 5 min"). */
export function duration(seconds) {
  const s = Math.max(0, Math.round(Number(seconds) || 0));
  if (s < 90) return `${s} s`;
  return span(s * 1000);
}

function span(ms) {
  const m = Math.round(Math.abs(ms) / 60000);
  if (m < 60) return `${m} min`;
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return `${hrs} h ${m % 60} min`;
  return `${Math.floor(hrs / 24)} d ${hrs % 24} h`;
}

/** The SLA clock of an incident: time left or overdue. */
export function slaClock(inc) {
  if (!inc.slaDueAt) return '—';
  const open = !['resolved', 'closed'].includes(inc.status);
  const left = new Date(inc.slaDueAt).getTime() - Date.now();
  if (!open) return h('span', {}, `due ${fmtDate(inc.slaDueAt)}`, inc.slaBreached ? ' (was breached)' : '');
  if (inc.slaBreached || left < 0) return h('span', { class: 'sla-overdue' }, `overdue by ${span(left)}`);
  return h('span', { class: left < 4 * 3600e3 ? 'sla-soon' : '' }, `due in ${span(left)}`);
}

export const label = (s) => String(s ?? '').replace(/_/g, ' ');

export function badge(value, extra = '') {
  if (value === undefined || value === null || value === '') return '—';
  return h('span', { class: ['badge', String(value), extra] }, label(value));
}

export const money = (cents) =>
  typeof cents === 'number' ? (cents / 100).toLocaleString(undefined, { minimumFractionDigits: 2 }) : '—';

// ---------- messages ----------

/**
 * An alert describing an error: the server's problem detail and the field
 * errors (`fields`: those no form field shows; default all of them).
 */
export function errorAlert(err, fields) {
  const e = err instanceof ApiError ? err : null;
  const title = e ? e.title : 'Something went wrong';
  const extra =
    e?.status === 412 ? ' Someone else changed this record: reload the page and try again.' : '';
  fields = fields ?? (e?.fieldErrors || []);
  return h(
    'div',
    { class: 'alert error', role: 'alert' },
    h('p', {}, h('strong', {}, title), e?.status ? ` (${e.status})` : ''),
    h('p', { class: 'detail' }, (err?.message || String(err)) + extra),
    fields.length ? h('ul', {}, fields.map((f) => h('li', {}, `${f.field}: ${f.message}`))) : null,
  );
}

export function toast(message, kind = 'ok') {
  const box = document.getElementById('toasts');
  const t = h('div', { class: ['toast', kind] }, message);
  box.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 9000 : 4000);
}

/**
 * Runs an action from a button: disables it while busy, reports a failure
 * in `alertBox` (or as a toast) and a success as a toast.
 */
export async function run(button, action, { done, alertBox } = {}) {
  if (alertBox) alertBox.replaceChildren();
  if (button) button.disabled = true;
  try {
    const result = await action();
    if (done) toast(done);
    return result;
  } catch (err) {
    if (alertBox) {
      alertBox.replaceChildren(errorAlert(err));
      alertBox.scrollIntoView?.({ block: 'nearest' });
    }
    toast(err.message || String(err), 'error');
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

/** A button whose click runs `action` (see `run`). */
export function actionButton(text, action, opts = {}) {
  const b = h('button', { type: 'button', class: opts.kind || '', 'data-action': opts.name || null }, text);
  b.addEventListener('click', () => run(b, action, opts));
  return b;
}

/** Where a screen reports its failures. */
export const alertBox = () => h('div', { class: 'alert-box' });

// ---------- layout ----------

export function panel(title, ...children) {
  return h('section', { class: 'panel', 'aria-label': title }, title ? h('h2', {}, title) : null, ...children);
}

export function props(pairs) {
  return h(
    'dl',
    { class: 'props' },
    pairs.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v === '' || v === null || v === undefined ? '—' : v)]),
  );
}

export function loading(text = 'Loading…') {
  return h('p', { class: 'muted', role: 'status' }, text);
}

/**
 * A table that becomes a list of cards on phones.
 * columns: [{label, value(row) -> node|string, noLabel}]
 */
export function dataTable(columns, rows, { caption, empty = 'Nothing to show.' } = {}) {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  const head = h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c.label)));
  const body = rows.map((r) =>
    h(
      'tr',
      {},
      columns.map((c) => {
        const v = c.value(r);
        return h('td', { 'data-label': c.label, class: c.noLabel ? 'no-label' : null }, v === '' || v === undefined || v === null ? '—' : v);
      }),
    ),
  );
  return h(
    'div',
    { class: 'table-wrap' },
    h('table', { class: 'data' }, caption ? h('caption', { class: 'muted' }, caption) : null, h('thead', {}, head), h('tbody', {}, body)),
  );
}

/** Accessible tabs; each panel renders on first selection. tabs: [{id, label, render(panelEl)}] */
export function tabs(list, { selected, onSelect } = {}) {
  const bar = h('div', { role: 'tablist', 'aria-label': 'Sections' });
  const panels = h('div', {});
  const buttons = [];
  const rendered = new Set();
  const select = (i, focus) => {
    buttons.forEach((b, j) => {
      b.setAttribute('aria-selected', String(i === j));
      b.tabIndex = i === j ? 0 : -1;
      panels.children[j].hidden = i !== j;
    });
    const t = list[i];
    if (!rendered.has(t.id)) {
      rendered.add(t.id);
      t.render(panels.children[i]);
    }
    if (focus) buttons[i].focus();
    onSelect?.(t.id);
  };
  list.forEach((t, i) => {
    const b = h('button', { type: 'button', role: 'tab', id: `tab-${t.id}`, 'aria-controls': `panel-${t.id}` }, t.label);
    b.addEventListener('click', () => select(i));
    b.addEventListener('keydown', (e) => {
      const d = { ArrowRight: 1, ArrowLeft: -1 }[e.key];
      if (d) select((i + d + list.length) % list.length, true);
    });
    buttons.push(b);
    bar.append(b);
    panels.append(h('div', { role: 'tabpanel', id: `panel-${t.id}`, 'aria-labelledby': `tab-${t.id}`, tabindex: '0', hidden: true }));
  });
  const start = Math.max(0, list.findIndex((t) => t.id === selected));
  queueMicrotask(() => select(start));
  return h('div', {}, bar, panels);
}

// ---------- forms ----------

/**
 * One labelled input. f: {name, label, type, options: [[value, text]],
 * value, hint, required, accept, capture, min, max, step, placeholder}
 */
export function field(f) {
  const id = uid(f.name);
  const errId = `${id}-err`;
  const hintId = f.hint ? `${id}-hint` : null;
  const common = {
    id,
    name: f.name,
    'aria-describedby': [hintId, errId].filter(Boolean).join(' '),
    'aria-required': f.required ? 'true' : null,
    placeholder: f.placeholder,
    autocomplete: f.autocomplete || 'off',
  };
  let input;
  if (f.type === 'select') {
    input = h(
      'select',
      common,
      (f.options || []).map(([v, t]) => h('option', { value: v, selected: String(f.value ?? '') === String(v) }, t ?? label(v))),
    );
  } else if (f.type === 'textarea') {
    input = h('textarea', { ...common, maxlength: f.max }, f.value ?? '');
  } else if (f.type === 'checkbox') {
    input = h('input', { ...common, type: 'checkbox', checked: Boolean(f.value) });
    return h(
      'div',
      { class: 'field check', 'data-field': f.name },
      input,
      h('label', { for: id }, f.label),
      h('p', { class: 'field-error', id: errId, hidden: true }),
    );
  } else {
    input = h('input', {
      ...common,
      type: f.type || 'text',
      value: f.value ?? '',
      min: f.min,
      max: f.max,
      step: f.step,
      accept: f.accept,
      capture: f.capture,
      inputmode: f.inputmode,
    });
  }
  return h(
    'div',
    { class: 'field', 'data-field': f.name },
    h('label', { for: id }, f.label),
    f.hint ? h('span', { class: 'hint', id: hintId }, f.hint) : null,
    input,
    h('p', { class: 'field-error', id: errId, hidden: true }),
  );
}

/** The values of a form's named inputs (numbers as numbers, checkboxes as booleans). */
export function formValues(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    if (el.type === 'checkbox') out[el.name] = el.checked;
    else if (el.type === 'file') out[el.name] = el.files?.[0] || null;
    else if (el.type === 'number') out[el.name] = el.value === '' ? undefined : Number(el.value);
    else out[el.name] = el.value;
  }
  return out;
}

/** Marks the fields the server named; returns the errors no field took. */
export function showFieldErrors(form, errors) {
  for (const el of form.querySelectorAll('.field-error')) {
    el.hidden = true;
    el.textContent = '';
  }
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  const left = [];
  for (const e of errors) {
    const box = form.querySelector(`[data-field="${CSS.escape(e.field)}"]`);
    if (!box) {
      left.push(e);
      continue;
    }
    const msg = box.querySelector('.field-error');
    msg.textContent = `${box.querySelector('label')?.textContent || e.field}: ${e.message}`;
    msg.hidden = false;
    box.querySelector('input, select, textarea')?.setAttribute('aria-invalid', 'true');
  }
  return left;
}

/**
 * A form whose submit calls `onSubmit(values)`; a failure shows the
 * problem above the fields and each field error beside its field.
 * Validation is the server's (novalidate), so its messages are the ones shown.
 */
export function form({ fields, submit = 'Save', onSubmit, inline = false, name, extra = [] }) {
  const box = h('div', { class: 'alert-box' });
  const button = h('button', { type: 'submit' }, submit);
  const f = h(
    'form',
    { class: ['form', inline && 'inline'], novalidate: true, 'data-form': name || null },
    box,
    fields.map((x) => (x instanceof Node ? x : field(x))),
    extra,
    h('div', { class: 'actions' }, button),
  );
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    box.replaceChildren();
    showFieldErrors(f, []);
    button.disabled = true;
    try {
      await onSubmit(formValues(f), f);
    } catch (err) {
      const left = showFieldErrors(f, err instanceof ApiError ? err.fieldErrors : []);
      box.replaceChildren(errorAlert(err, left));
      box.querySelector('[role="alert"]')?.scrollIntoView?.({ block: 'nearest' });
      toast(err.message || String(err), 'error');
    } finally {
      button.disabled = false;
    }
  });
  return f;
}

/** Options for a select from a list of enum values, with an "any" first. */
export const options = (values, any) => [...(any !== undefined ? [['', any]] : []), ...values.map((v) => [v, label(v)])];

/** Only the non-empty values of an object (for optional JSON fields). */
export function compact(obj) {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== '' && v !== undefined && v !== null));
}
