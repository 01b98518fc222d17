// The sign-in screen: OpenID Connect Authorization Code with PKCE against
// the configured issuer (oidc.js), or a pasted token (edge boxes mint one
// with `essp token …`). The token stays in sessionStorage.

import { startOidc } from './oidc.js';
import { session, settings, tokenClaims } from './session.js';
import { h, mount, errorAlert, form } from './ui.js';

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
      session.clearOidc();
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
