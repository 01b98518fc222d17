// Hash routing: #/path/with/:params?query. Screens are ES modules loaded
// on first use, so the first visit only loads what it shows.

const routes = [];

/** Registers `#<pattern>` (e.g. '/incidents/:id') → screens/<module>.js. */
export function route(pattern, module, nav) {
  const keys = [];
  const re = new RegExp(
    '^' + pattern.replace(/:[a-zA-Z]+/g, (k) => (keys.push(k.slice(1)), '([^/]+)')) + '$',
  );
  routes.push({ re, keys, module, nav });
}

/** The current location: {path, query}. */
export function current() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs = ''] = raw.split('?');
  return { path, query: Object.fromEntries(new URLSearchParams(qs)) };
}

export function href(path, query = {}) {
  const qs = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== '' && v !== undefined && v !== null && v !== false));
  const s = qs.toString();
  return `#${path}${s ? `?${s}` : ''}`;
}

export function go(path, query) {
  location.hash = href(path, query);
}

/** Finds the route of `path`: {module, params, nav} or null. */
export function match(path) {
  for (const r of routes) {
    const m = r.re.exec(path);
    if (m) {
      const params = {};
      r.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1])));
      return { module: r.module, params, nav: r.nav };
    }
  }
  return null;
}
