// The one way the UI talks to the /v1 API: tenancy and token headers,
// RFC 9457 problems as ApiError, Idempotency-Key on creates, If-Match on
// versioned changes. After an OpenID Connect sign-in the access token is
// renewed with the refresh token before it runs out, and once more when the
// server rejects it (the request is then sent again); when renewal fails the
// session ends and the UI goes back to sign-in with the reason.

import { renew, renewDue } from './oidc.js';
import { session, settings } from './session.js';

/** A failed call, carrying the server's problem document. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
  get title() {
    return this.problem.title || 'Request failed';
  }
  get code() {
    return this.problem.code || '';
  }
  /** [{field, message}] for field problems. */
  get fieldErrors() {
    return Array.isArray(this.problem.errors) ? this.problem.errors : [];
  }
}

let unauthorized = () => {};
/** What to do when the server answers 401 (back to sign-in). */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

function url(path, query) {
  const u = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, String(v));
  }
  return u.pathname + u.search;
}

/**
 * Calls the API. Options: method, query, body (JSON), file (a Blob sent
 * as-is with its type), idempotent (adds a fresh Idempotency-Key),
 * ifMatch (a version number), as ('json' | 'blob').
 */
export async function api(path, opts = {}) {
  const { method = 'GET', query, body, file, idempotent, ifMatch, as = 'json' } = opts;
  const headers = { Accept: 'application/json, application/problem+json' };
  if (session.tenant) headers[settings.tenantHeader] = session.tenant;
  if (session.school) headers[settings.schoolHeader] = session.school;
  // One key for the call, so a retry after renewal is the same request.
  if (idempotent) headers['Idempotency-Key'] = crypto.randomUUID();
  if (ifMatch !== undefined && ifMatch !== null) headers['If-Match'] = `"${ifMatch}"`;
  let payload;
  if (file) {
    payload = file;
    headers['Content-Type'] = opts.contentType || file.type || 'application/octet-stream';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  }
  let sentWith;
  const send = async () => {
    sentWith = session.token;
    if (sentWith) headers.Authorization = `Bearer ${sentWith}`;
    try {
      return await fetch(url(path, query), { method, headers, body: payload });
    } catch (e) {
      throw new ApiError(0, { title: 'Network error', detail: `The server could not be reached (${e.message}).` });
    }
  };
  if (renewDue()) await renewOrEnd(!session.tokenExpired());
  let resp = await send();
  if (resp.status === 401 && session.oidc?.refreshToken) {
    // Rejected before its time (e.g. the provider rotated its keys): a
    // 401 means nothing was done, so renew once (unless a concurrent call
    // already did) and send it again.
    if (session.token === sentWith) await renewOrEnd(false);
    resp = await send();
  }
  if (!resp.ok) {
    const problem = await readProblem(resp);
    if (resp.status === 401) unauthorized(problem);
    throw new ApiError(resp.status, problem);
  }
  if (resp.status === 204) return null;
  if (as === 'blob') return resp.blob();
  const text = await resp.text();
  return text ? JSON.parse(text) : null;
}

/**
 * Renews the access token. When that fails the session ends (back to
 * sign-in with the reason), unless `keepOnOutage`: the provider is merely
 * unreachable and the current token still works, so the call goes ahead.
 */
async function renewOrEnd(keepOnOutage) {
  try {
    await renew();
  } catch (e) {
    if (keepOnOutage && !e.refused) return;
    const problem = { status: 401, title: 'Your session has ended', detail: e.message, code: 'session_ended' };
    unauthorized(problem);
    throw new ApiError(401, problem);
  }
}

async function readProblem(resp) {
  const text = await resp.text().catch(() => '');
  try {
    const p = JSON.parse(text);
    if (p && typeof p === 'object') return { status: resp.status, ...p };
  } catch {
    /* not JSON: described below */
  }
  return { status: resp.status, title: resp.statusText || `HTTP ${resp.status}`, detail: text.slice(0, 300) || `The server answered ${resp.status}.` };
}

/** Every page of a cursor list, up to `max` items (for overview counts). */
export async function collect(path, query = {}, max = 1000) {
  const items = [];
  let cursor;
  do {
    const page = await api(path, { query: { ...query, limit: 200, cursor } });
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && items.length < max);
  return { items, more: Boolean(cursor) };
}
