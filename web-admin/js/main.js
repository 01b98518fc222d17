// Start-up and the shell: sign-in, who am I (/v1/me), tenant and school
// context (an edge's own, shown; else picked), navigation and the router.

import { api, ApiError, onUnauthorized } from './api.js';
import { renderSignIn } from './auth.js';
import { completeOidc, renew, signOut } from './oidc.js';
import { current, match, route } from './router.js';
import { DEFAULT_TENANT, edgeScope, session, settings } from './session.js';
import { errorAlert, h, loading, mount } from './ui.js';

route('/', 'overview', 'overview');
route('/incidents', 'incidents', 'incidents');
route('/incidents/new', 'incident-new', 'incidents');
route('/incidents/:id', 'incident', 'incidents');
route('/work-orders', 'work-orders', 'work-orders');
route('/work-orders/:id', 'work-order', 'work-orders');
route('/shops', 'shops', 'shops');
route('/inventory', 'inventory', 'inventory');
route('/ssot', 'ssot', 'ssot');
route('/projects', 'projects', 'projects');
route('/projects/:id', 'project', 'projects');
route('/audit', 'audit', 'audit');
route('/sync', 'sync', 'sync');
route('/sync/:school', 'sync', 'sync');

/** Navigation: [id, label, href, permission]. */
const NAV = [
  ['overview', 'Overview', '#/', 'incident:read'],
  ['incidents', 'Incidents', '#/incidents', 'incident:read'],
  ['work-orders', 'Work orders', '#/work-orders', 'workorder:read'],
  ['shops', 'Shops & staff', '#/shops', 'serviceshop:read'],
  ['inventory', 'Inventory', '#/inventory', 'inventory:read'],
  ['ssot', 'Reference data', '#/ssot', 'ssot:read'],
  ['projects', 'Projects', '#/projects', 'project:read'],
  ['audit', 'Audit log', '#/audit', 'audit:read'],
  ['sync', 'Sync', '#/sync', 'sync:read'],
];

const app = document.getElementById('app');
let main = document.getElementById('main');
let nav;
let firstRender = true;

function signIn(problem) {
  session.signOut();
  // Back to a bare page: no navigation or context for a signed-out user.
  mount(app, main);
  renderSignIn(main, problem);
}

async function boot() {
  onUnauthorized((problem) => signIn(new ApiError(401, { ...problem, detail: `${problem.detail || 'Your session has ended.'} Sign in again.` })));
  try {
    await completeOidc();
  } catch (err) {
    return signIn(new ApiError(0, { title: 'Sign-in failed', detail: err.message }));
  }
  if (settings.authEnabled && session.token && session.tokenExpired() && session.oidc?.refreshToken) {
    // Back after a while: the access token ran out, the refresh token may not have.
    try {
      await renew();
    } catch (err) {
      return signIn(new ApiError(401, { title: 'Your session has ended', detail: `${err.message} Sign in again.` }));
    }
  }
  if (settings.authEnabled && (!session.token || session.tokenExpired())) return signIn();
  try {
    session.me = await api('/v1/me');
  } catch (err) {
    if (err.status === 401) return undefined;
    mount(main, errorAlert(err));
    return undefined;
  }
  await shell();
  window.addEventListener('hashchange', render);
  render();
}

async function shell() {
  const toggle = h('button', { type: 'button', class: 'menu-toggle', 'aria-expanded': 'false', 'aria-controls': 'mainnav' }, 'Menu');
  nav = h(
    'nav',
    { class: 'mainnav', id: 'mainnav', 'aria-label': 'Main', hidden: true },
    h('ul', {}, NAV.filter((n) => session.can(n[3])).map(([id, text, link]) => h('li', {}, h('a', { href: link, 'data-nav': id }, text)))),
  );
  toggle.addEventListener('click', () => {
    const open = toggle.getAttribute('aria-expanded') !== 'true';
    toggle.setAttribute('aria-expanded', String(open));
    nav.hidden = !open;
  });
  nav.addEventListener('click', (e) => {
    if (e.target.closest('a') && getComputedStyle(toggle).display !== 'none') {
      nav.hidden = true;
      toggle.setAttribute('aria-expanded', 'false');
    }
  });
  const header = h('header', { class: 'topbar' }, h('a', { class: 'brand', href: '#/' }, 'ESSP admin'), toggle, nav);
  // Tenant and school: open on wide screens; on a phone one line until opened.
  const context = h('details', { class: 'context', open: !session.school });
  // Wide screens hide the summary line, so the context is always open there.
  const wide = matchMedia('(min-width: 700px)');
  const openWhenWide = () => {
    if (wide.matches) context.open = true;
  };
  wide.addEventListener('change', openWhenWide);
  openWhenWide();
  main = h('main', { id: 'main', tabindex: '-1' });
  mount(app, header, context, main);
  await contextBar(context);
}

/** A school as the reference data names it; just its id when that cannot be read. */
function namedSchool(id) {
  const bare = { id, name: id };
  return session.can('ssot:read') ? api(`/v1/ssot/school/${encodeURIComponent(id)}`).catch(() => bare) : Promise.resolve(bare);
}

const schoolLabel = (s) => (s.code ? `${s.name} (${s.code})` : s.name);

/** Who is signed in, with sign-out (or the note that this is development mode). */
function whoLine() {
  const me = session.me;
  return h(
    'p',
    { class: 'who', 'data-who': me.subject },
    `Signed in as ${me.subject} (${me.roles.join(', ') || 'no role'})`,
    settings.authEnabled ? [' · ', h('button', { type: 'button', class: 'link', 'data-action': 'sign-out', onclick: () => signOut().then(() => location.reload()) }, 'Sign out')] : ' · development mode',
  );
}

/** The context box: a one-line summary (phones) and its fields. */
function fillContext(box, school, parts) {
  mount(box, h('summary', {}, `School: ${school}`), h('div', { class: 'context-fields', role: 'group', 'aria-label': 'Working context' }, parts));
}

/** Tenant (development mode only), school, and who is signed in; on an edge, its own school. */
async function contextBar(box) {
  if (edgeScope) return edgeContext(box);
  const parts = [];
  if (!settings.authEnabled) {
    const tenant = h('input', { id: 'tenant-input', value: session.tenant, autocomplete: 'off' });
    tenant.addEventListener('change', () => {
      session.setTenant(tenant.value || DEFAULT_TENANT);
      location.reload();
    });
    parts.push(h('div', { class: 'field' }, h('label', { for: 'tenant-input' }, 'Tenant'), tenant));
  }
  const select = h('select', { id: 'school-select' });
  const search = h('input', { id: 'school-search', type: 'search', placeholder: 'Name or code', autocomplete: 'off' });
  const fill = async (q) => {
    let list = [];
    const allowed = session.me?.schools;
    try {
      // The token's schools, named when the reference data says how.
      if (Array.isArray(allowed)) list = await Promise.all(allowed.slice(0, 50).map(namedSchool));
      else if (session.can('ssot:read')) list = (await api('/v1/ssot/schools', { query: { q, limit: 100 } })).items;
    } catch {
      list = [];
    }
    if (!session.school && list[0]) session.setSchool(list[0].id);
    if (session.school && !list.some((s) => s.id === session.school)) list.unshift({ id: session.school, name: session.school });
    mount(
      select,
      list.length ? null : h('option', { value: '' }, 'No school found'),
      list.map((s) => h('option', { value: s.id, selected: s.id === session.school }, schoolLabel(s))),
    );
  };
  select.addEventListener('change', () => {
    session.setSchool(select.value);
    box.querySelector('summary').textContent = `School: ${select.selectedOptions[0]?.textContent || select.value}`;
    render();
  });
  let timer;
  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => fill(search.value.trim()), 300);
  });
  await fill('');
  parts.push(h('div', { class: 'field' }, h('label', { for: 'school-select' }, 'School'), select));
  if (!Array.isArray(session.me?.schools)) {
    parts.push(h('div', { class: 'field' }, h('label', { for: 'school-search' }, 'Find a school'), search));
  }
  parts.push(whoLine());
  fillContext(box, select.selectedOptions[0]?.textContent || 'no school chosen', parts);
}

/** An edge serves one school of one tenant (its settings): shown, never picked. */
async function edgeContext(box) {
  const school = schoolLabel(await namedSchool(edgeScope.school));
  fillContext(box, school, [
    h(
      'p',
      { class: 'edge-scope', 'data-edge-school': edgeScope.school, 'data-edge-tenant': edgeScope.tenant },
      'This edge serves ',
      h('strong', {}, school),
      ` · tenant ${edgeScope.tenant}`,
    ),
    whoLine(),
  ]);
}

let renderSeq = 0;
async function render() {
  if (location.hash && !location.hash.startsWith('#/')) {
    main.focus();
    return;
  }
  const seq = ++renderSeq;
  const { path, query } = current();
  const m = match(path);
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.nav === m?.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const view = h('div', { class: 'view' }, loading());
  mount(main, view);
  if (!firstRender) main.focus({ preventScroll: true });
  firstRender = false;
  if (!m) {
    mount(view, h('h1', {}, 'Not found'), h('p', {}, 'There is no page here. ', h('a', { href: '#/' }, 'Go to the overview.')));
    return;
  }
  try {
    const screen = await import(`./screens/${m.module}.js`);
    if (seq !== renderSeq) return;
    await screen.default(view, m.params, query);
    const title = view.querySelector('h1')?.textContent;
    document.title = title ? `${title} · ESSP admin` : 'ESSP admin';
  } catch (err) {
    if (seq === renderSeq) mount(view, errorAlert(err));
  }
}

boot();
