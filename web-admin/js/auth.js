// Signing in: OpenID Connect Authorization Code with PKCE against the
// configured issuer, or a pasted token (edge boxes mint one with
// `essp token …`). The token stays in sessionStorage.

import { session, settings, tokenClaims } from './session.js';
import { h, mount, errorAlert, form } from './ui.js';

const PENDING = 'essp.oidc';

function b64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));
const redirectUri = () => `${location.origin}/`;

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
    JSON.stringify({ state, verifier, tokenEndpoint: d.token_endpoint, returnTo: location.hash }),
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
 * (`?code=…&state=…`). Returns true when it handled the page.
 */
export async function completeOidc() {
  const p = new URLSearchParams(location.search);
  if (!p.has('code') && !p.has('error')) return false;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || 'null');
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, '', `/${pending?.returnTo || ''}`);
  if (p.get('error')) throw new Error(`Sign-in failed: ${p.get('error_description') || p.get('error')}`);
  if (!pending || pending.state !== p.get('state')) throw new Error('Sign-in failed: the answer does not match the request (state). Try again.');
  const resp = await fetch(pending.tokenEndpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: p.get('code'),
      redirect_uri: redirectUri(),
      client_id: settings.oidcClientId,
      code_verifier: pending.verifier,
    }),
  });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok || !body.access_token) throw new Error(`Sign-in failed: ${body.error_description || body.error || resp.status}`);
  session.setToken(body.access_token);
  return true;
}

/** The sign-in screen (auth enabled, no usable token). */
export function renderSignIn(root, problem) {
  const pasted = form({
    name: 'token',
    submit: 'Use this token',
    fields: [
      {
        name: 'token',
        label: 'Access token',
        type: 'textarea',
        hint: 'On an edge box without the identity provider, mint one with: essp token --sub <you> --tenant <tenant> --school <school> --role essp-technician',
      },
    ],
    onSubmit: async ({ token }) => {
      const t = token.trim();
      const claims = tokenClaims(t);
      if (!claims) throw new Error('That is not a JWT (three base64url parts separated by dots).');
      session.setToken(t);
      location.reload();
    },
  });
  mount(
    root,
    h(
      'div',
      { class: 'signin panel' },
      h('h1', {}, 'Sign in to ESSP'),
      problem ? errorAlert(problem) : null,
      settings.oidcIssuer
        ? h(
            'p',
            {},
            h(
              'button',
              {
                type: 'button',
                'data-action': 'oidc',
                onclick: (e) => {
                  e.target.disabled = true;
                  startOidc().catch((err) => {
                    e.target.disabled = false;
                    root.querySelector('.signin').prepend(errorAlert(err));
                  });
                },
              },
              'Sign in with your organisation',
            ),
          )
        : h('p', { class: 'muted' }, 'This server has no identity provider configured: paste a token.'),
      h('h2', {}, 'Or paste a token'),
      pasted,
    ),
  );
}
