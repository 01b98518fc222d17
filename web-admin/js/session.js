// Who is using the UI and where: the deployment's settings (from the page),
// the tokens (sessionStorage), the tenant and school (an edge's own, else
// chosen and kept in localStorage) and the caller's permissions (from
// GET /v1/me).

const meta = document.querySelector('meta[name="essp-settings"]');

/** {mode, authEnabled, oidcIssuer, oidcClientId, tenantHeader, schoolHeader, tenantId, schoolId, version} */
export const settings = Object.freeze({
  mode: 'central',
  authEnabled: false,
  oidcIssuer: null,
  oidcClientId: 'essp-admin',
  tenantHeader: 'X-Tenant-ID',
  schoolHeader: 'X-School-ID',
  tenantId: null,
  schoolId: null,
  ...readSettings(),
});

/**
 * On an edge: the tenant and school it serves, the fixed scope of every
 * call (there is nothing else to pick); null on central.
 */
export const edgeScope =
  settings.mode === 'edge' && settings.tenantId && settings.schoolId ? Object.freeze({ tenant: settings.tenantId, school: settings.schoolId }) : null;

function readSettings() {
  try {
    return JSON.parse(meta?.content || '{}');
  } catch {
    return {};
  }
}

const TOKEN = 'essp.token';
const OIDC = 'essp.oidc.session';
const TENANT = 'essp.tenant';
const SCHOOL = 'essp.school';
export const DEFAULT_TENANT = 'demo-tenant';

/** The payload of a JWT, for display and defaults only (never trusted). */
export function tokenClaims(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = atob(part + '='.repeat((4 - (part.length % 4)) % 4));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
  } catch {
    return null;
  }
}

export const session = {
  /** GET /v1/me, once signed in. */
  me: null,

  get token() {
    return sessionStorage.getItem(TOKEN) || '';
  },
  setToken(token) {
    sessionStorage.setItem(TOKEN, token.trim());
  },
  /** Forgets the OpenID Connect session, e.g. when a token is pasted. */
  clearOidc() {
    sessionStorage.removeItem(OIDC);
  },
  /** After an OpenID Connect sign-in: {refreshToken, tokenEndpoint, revocationEndpoint}. */
  get oidc() {
    try {
      return JSON.parse(sessionStorage.getItem(OIDC) || 'null');
    } catch {
      return null;
    }
  },
  setOidc(value) {
    sessionStorage.setItem(OIDC, JSON.stringify(value));
  },
  /** Forgets every token (the provider-side revocation is oidc.js's). */
  signOut() {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(OIDC);
    this.me = null;
  },
  /** A token whose `exp` has passed is no use: renew it or sign in again. */
  tokenExpired() {
    const exp = tokenClaims(this.token)?.exp;
    return typeof exp === 'number' && exp * 1000 < Date.now();
  },

  /** An edge's own tenant; else the token's when it has one; else the one chosen here. */
  get tenant() {
    return edgeScope?.tenant || this.me?.tenantId || localStorage.getItem(TENANT) || DEFAULT_TENANT;
  },
  setTenant(t) {
    localStorage.setItem(TENANT, t.trim());
  },
  /** An edge's own school; else the one chosen here, within the token's schools. */
  get school() {
    if (edgeScope) return edgeScope.school;
    const chosen = localStorage.getItem(SCHOOL) || '';
    const allowed = this.me?.schools;
    if (Array.isArray(allowed) && !allowed.includes(chosen)) return allowed[0] || '';
    return chosen;
  },
  setSchool(s) {
    localStorage.setItem(SCHOOL, s);
  },

  /** Whether the caller holds a permission (the server still decides). */
  can(permission) {
    return Boolean(this.me?.permissions?.includes(permission));
  },
};
