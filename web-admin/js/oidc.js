// OpenID Connect for a browser app: Authorization Code with PKCE (S256)
// against the configured issuer, refresh-token renewal before the access
// token runs out, and revocation on sign-out. The protocol only; the
// sign-in screen is in auth.js. Tokens live in sessionStorage (session.js).

import { session, settings, tokenClaims } from './session.js';

const PENDING = 'essp.oidc';

function b64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));
const redirectUri = () => `${location.origin}/`;
const form = (fields) => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields),
});

async function discovery() {
  const issuer = settings.oidcIssuer.replace(/\/$/, '');
  const resp = await fetch(`${issuer}/.well-known/openid-configuration`);
  if (!resp.ok) throw new Error(`The identity provider's discovery document answered ${resp.status}.`);
  return resp.json();
}

/** Sends the browser to the identity provider. */
export async function startOidc() {
  const d = await discovery();
  const verifier = random(48);
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  const state = random(16);
  sessionStorage.setItem(
    PENDING,
    JSON.stringify({
      state,
      verifier,
      tokenEndpoint: d.token_endpoint,
      revocationEndpoint: d.revocation_endpoint || null,
      returnTo: location.hash,
    }),
  );
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: settings.oidcClientId,
    redirect_uri: redirectUri(),
    scope: 'openid profile',
    state,
    code_challenge: b64url(new Uint8Array(digest)),
    code_challenge_method: 'S256',
  });
  location.assign(`${d.authorization_endpoint}?${q}`);
}

/**
 * Finishes a sign-in when the identity provider sent the browser back
 * (`?code=…&state=…` or `?error=…`). Returns true when it handled the page;
 * throws (with nothing stored) when the answer is an error or not ours.
 */
export async function completeOidc() {
  const p = new URLSearchParams(location.search);
  if (!p.has('code') && !p.has('error')) return false;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || 'null');
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, '', `/${pending?.returnTo || ''}`);
  if (p.get('error')) {
    const why = p.get('error_description');
    throw new Error(`The identity provider answered ${p.get('error')}${why ? `: ${why}` : ''}. Try again.`);
  }
  if (!pending || pending.state !== p.get('state')) {
    throw new Error('The answer does not match the request (state): it was not started here, or was altered. Try again.');
  }
  const resp = await fetch(
    pending.tokenEndpoint,
    form({
      grant_type: 'authorization_code',
      code: p.get('code'),
      redirect_uri: redirectUri(),
      client_id: settings.oidcClientId,
      code_verifier: pending.verifier,
    }),
  );
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok || !body.access_token) throw new Error(`The identity provider would not issue a token (${body.error_description || body.error || resp.status}).`);
  session.setToken(body.access_token);
  session.setOidc({
    refreshToken: body.refresh_token || null,
    tokenEndpoint: pending.tokenEndpoint,
    revocationEndpoint: pending.revocationEndpoint,
  });
  return true;
}

/** Why a renewal failed; `refused` when the provider said no (not the network). */
export class RenewError extends Error {
  constructor(message, refused) {
    super(message);
    this.refused = refused;
  }
}

let renewing = null;

/**
 * Trades the refresh token for a new access token (and, when the provider
 * rotates them, a new refresh token). One renewal at a time: concurrent
 * callers share it. Throws RenewError.
 */
export function renew() {
  renewing ??= renewOnce().finally(() => {
    renewing = null;
  });
  return renewing;
}

async function renewOnce() {
  const oidc = session.oidc;
  if (!oidc?.refreshToken) throw new RenewError('There is no refresh token.', true);
  let resp;
  try {
    resp = await fetch(
      oidc.tokenEndpoint,
      form({ grant_type: 'refresh_token', refresh_token: oidc.refreshToken, client_id: settings.oidcClientId }),
    );
  } catch (e) {
    throw new RenewError(`The identity provider could not be reached (${e.message}).`, false);
  }
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok || !body.access_token) {
    const why = body.error_description || body.error || `HTTP ${resp.status}`;
    throw new RenewError(`The identity provider would not renew your session (${why}).`, resp.status < 500);
  }
  session.setToken(body.access_token);
  session.setOidc({ ...oidc, refreshToken: body.refresh_token || oidc.refreshToken });
}

/**
 * Whether the access token should be renewed before the next request: it
 * has run out, or less than a quarter of its life (at most a minute) is left.
 */
export function renewDue() {
  if (!session.oidc?.refreshToken) return false;
  const { exp, iat } = tokenClaims(session.token) || {};
  if (typeof exp !== 'number') return false;
  const life = typeof iat === 'number' ? exp - iat : 300;
  const margin = Math.min(60, life / 4) * 1000;
  return exp * 1000 - Date.now() < margin;
}

/** Signs out: revokes the refresh token at the provider (best effort), then forgets every token. */
export async function signOut() {
  const oidc = session.oidc;
  session.signOut();
  if (oidc?.refreshToken && oidc.revocationEndpoint) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), 3000);
    await fetch(oidc.revocationEndpoint, {
      ...form({ token: oidc.refreshToken, token_type_hint: 'refresh_token', client_id: settings.oidcClientId }),
      signal: ctl.signal,
    })
      .catch(() => {})
      .finally(() => clearTimeout(timer));
  }
}
