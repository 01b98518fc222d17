// Test-only OpenID Connect provider standing in for Keycloak in ESSP
// integration tests. Issues JWT access tokens carrying Keycloak-shaped
// claims to confidential clients (client credentials) and to signed-in
// users of public clients (authorization code + PKCE, with rotating
// refresh tokens), serves discovery and JWKS, and supports key rotation
// across restarts. Never use outside tests.
//
//   node provider.mjs --port 0 --keys <dir> [--rotate] [--watch-stdin]
//                     [--access-ttl <seconds>]
//
// <dir> holds rsa.pem / ec.pem (PKCS#8 private keys), rsa.pub.pem /
// ec.pub.pem (SPKI public keys), jwks.json (the private JWKs the provider
// signs with) and, optionally, clients.json (the test identities):
//
//   [{ "client_id": "admin", "client_secret": "secret-admin",
//      "alg": "RS256", "claims": { "realm_access": { "roles": ["essp-admin"] } } }]
//
// `client_secret` defaults to "secret-" + client_id, `alg` to RS256 (ES256
// is the other choice). `claims` is added verbatim to every access token of
// that client; the provider itself owns jti, sub (= client_id), iat, exp,
// client_id, iss and aud, which cannot be overridden.
//
// Users (who sign in through the browser) come from users.json in <dir>,
// if present (read again for every token), else DEFAULT_USERS below:
//
//   [{ "login": "ui-admin", "claims": { "realm_access": { "roles": ["essp-admin"] } } }]
//
// The login form is oidc-provider's development one: any password works,
// any login name signs in (an unknown one gets no extra claims). `claims`
// is added to the access tokens issued for that user (sub = login).
//
// Public clients (a browser app such as the admin UI) are registered at run
// time, once their redirect URI is known, with Dynamic Client Registration:
// POST the client metadata to `registration_endpoint` with the bearer
// `registration_token` from the readiness line; a `client_id` in the body
// is kept. Such a client gets the authorization-code flow with PKCE (S256,
// required), an access token per `--access-ttl` (default 300 s), and a
// refresh token that is rotated on every use (like Keycloak's "revoke
// refresh token"); the revocation endpoint accepts it. Registered clients,
// sessions and refresh tokens live in memory and are gone after a restart.
//
// stdout carries exactly one line, the readiness JSON; everything else goes
// to stderr. SIGTERM/SIGINT (or, with --watch-stdin, stdin reaching EOF
// because the parent died) stop the process with exit code 0.

import { generateKeyPairSync, randomBytes, createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

// oidc-provider prints notices with console.info (stdout): keep stdout for
// the readiness line only, and drop the notices that are expected here.
const EXPECTED = [
  'Unsupported runtime', // Node 20 works; the library nags for 22+.
  'a quick start development-only in-memory adapter', // in-memory is the point.
  'development-only feature devInteractions', // its login form is what the browser tests fill.
];
const toStderr = (...args) => {
  const text = args.map(String).join(' ');
  if (!EXPECTED.some((e) => text.includes(e))) console.error(...args);
};
console.log = toStderr;
console.info = toStderr;
console.warn = toStderr;

const { default: Provider, errors } = await import('oidc-provider');

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    keys: { type: 'string' },
    rotate: { type: 'boolean', default: false },
    'watch-stdin': { type: 'boolean', default: false },
    'access-ttl': { type: 'string', default: '300' },
  },
  strict: true,
});
if (!args.keys) {
  console.error('usage: node provider.mjs --port <n> --keys <dir> [--rotate] [--watch-stdin] [--access-ttl <s>]');
  process.exit(2);
}
const port = Number(args.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid --port ${args.port}`);
  process.exit(2);
}
const TTL_SECONDS = Number(args['access-ttl']);
if (!Number.isInteger(TTL_SECONDS) || TTL_SECONDS < 1) {
  console.error(`invalid --access-ttl ${args['access-ttl']}`);
  process.exit(2);
}
const dir = args.keys;
mkdirSync(dir, { recursive: true });

/// The audience Keycloak puts in tokens for the API client.
const AUDIENCE = 'essp-api';
/// Resource indicators must be absolute URIs in oidc-provider, so the
/// resource is a URN while the `aud` claim stays plain "essp-api".
const RESOURCE = 'urn:essp:api';

// ---------------------------------------------------------------- keys

function writeAtomic(path, data) {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode: 0o600 });
  renameSync(tmp, path);
}

function newKid(prefix) {
  return `${prefix}-${randomBytes(8).toString('hex')}`;
}

function generateKeys() {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsaJwk = { ...rsa.privateKey.export({ format: 'jwk' }), kid: newKid('rsa'), alg: 'RS256', use: 'sig' };
  const ecJwk = { ...ec.privateKey.export({ format: 'jwk' }), kid: newKid('ec'), alg: 'ES256', use: 'sig' };
  writeAtomic(join(dir, 'rsa.pem'), rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeAtomic(join(dir, 'ec.pem'), ec.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeAtomic(join(dir, 'rsa.pub.pem'), rsa.publicKey.export({ type: 'spki', format: 'pem' }));
  writeAtomic(join(dir, 'ec.pub.pem'), ec.publicKey.export({ type: 'spki', format: 'pem' }));
  // jwks.json last: its presence means the set is complete.
  writeAtomic(join(dir, 'jwks.json'), `${JSON.stringify({ keys: [rsaJwk, ecJwk] }, null, 2)}\n`);
}

function loadKeys() {
  const jwks = JSON.parse(readFileSync(join(dir, 'jwks.json'), 'utf8'));
  for (const jwk of jwks.keys) {
    // Fail early on a corrupt set rather than at the first token request.
    createPublicKey(createPrivateKey({ key: jwk, format: 'jwk' }));
  }
  return jwks;
}

if (args.rotate || !existsSync(join(dir, 'jwks.json'))) generateKeys();
const jwks = loadKeys();

// ------------------------------------------------------------- clients

const DEFAULT_CLIENTS = [
  { client_id: 'admin', claims: { realm_access: { roles: ['essp-admin'] }, tenantId: 'tenant-a' } },
  {
    client_id: 'tech',
    claims: { realm_access: { roles: ['essp-technician'] }, tenantId: 'tenant-a', schools: ['school-1'] },
  },
  {
    client_id: 'viewer',
    claims: { realm_access: { roles: ['essp-viewer'] }, tenantId: 'tenant-a', schools: ['school-1'] },
  },
  {
    client_id: 'other-tenant',
    claims: { realm_access: { roles: ['essp-admin'] }, tenantId: 'tenant-b', schools: ['school-1'] },
  },
  {
    client_id: 'support',
    claims: {
      resource_access: { [AUDIENCE]: { roles: ['ssp_support_agent'] } },
      tenantId: 'tenant-a',
      schools: ['school-1', 'school-2'],
    },
  },
  { client_id: 'noroles', claims: { tenantId: 'tenant-a', schools: ['school-1'] } },
  { client_id: 'notenant', claims: { realm_access: { roles: ['essp-admin'] } } },
  {
    client_id: 'es-tech',
    alg: 'ES256',
    claims: { realm_access: { roles: ['essp-technician'] }, tenantId: 'tenant-a', schools: ['school-1'] },
  },
];

const clientsFile = join(dir, 'clients.json');
const specs = existsSync(clientsFile) ? JSON.parse(readFileSync(clientsFile, 'utf8')) : DEFAULT_CLIENTS;
if (!Array.isArray(specs)) {
  console.error(`${clientsFile} must hold a JSON array of clients`);
  process.exit(2);
}

const clients = specs.map((spec) => {
  const { client_id: id, client_secret: secret, alg = 'RS256', claims = {} } = spec;
  if (typeof id !== 'string' || !id) throw new Error(`client without client_id: ${JSON.stringify(spec)}`);
  if (!['RS256', 'ES256'].includes(alg)) throw new Error(`client ${id}: alg must be RS256 or ES256`);
  return {
    client_id: id,
    client_secret: secret ?? `secret-${id}`,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    // Also used below to pick the access-token signing algorithm.
    id_token_signed_response_alg: alg,
    essp_claims: claims,
  };
});

// --------------------------------------------------------------- users

const DEFAULT_USERS = [
  { login: 'ui-admin', claims: { realm_access: { roles: ['essp-admin'] }, tenantId: 'tenant-a' } },
  {
    login: 'ui-tech',
    claims: { realm_access: { roles: ['essp-technician'] }, tenantId: 'tenant-a', schools: ['school-1'] },
  },
];
const usersFile = join(dir, 'users.json');
/** The claims of a user, from users.json as it is now: a test may write
 * the file once it knows the ids to put there (re-read per token). */
function userClaims(login) {
  let specs = DEFAULT_USERS;
  if (existsSync(usersFile)) {
    specs = JSON.parse(readFileSync(usersFile, 'utf8'));
    if (!Array.isArray(specs)) throw new Error(`${usersFile} must hold a JSON array of {login, claims}`);
  }
  return specs.find((u) => u?.login === login)?.claims;
}

// ------------------------------------------------------------ provider

const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
});
const actualPort = server.address().port;
const issuer = `http://127.0.0.1:${actualPort}`;
// Guards dynamic client registration; handed to the test in the ready line.
const registrationToken = randomBytes(24).toString('hex');

const provider = new Provider(issuer, {
  clients,
  jwks,
  cookies: { keys: [randomBytes(32).toString('hex')] },
  extraClientMetadata: {
    properties: ['essp_claims'],
    validator(_ctx, key, value) {
      if (key !== 'essp_claims' || value === undefined) return;
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new Error('essp_claims must be a JSON object');
      }
    },
  },
  // Any login signs in; Keycloak-like profile claims for the ID token.
  findAccount: (_ctx, sub) => ({
    accountId: sub,
    claims: () => ({ sub, name: sub, preferred_username: sub }),
  }),
  claims: { openid: ['sub'], profile: ['name', 'preferred_username'] },
  scopes: ['openid', 'offline_access', 'profile'],
  pkce: { required: () => true },
  // Like Keycloak's standard flow: a refresh token with every code, no
  // offline_access needed; rotated on each use, so a replayed one fails.
  issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: () => true,
  features: {
    devInteractions: { enabled: true },
    registration: {
      enabled: true,
      initialAccessToken: registrationToken,
      idFactory: (ctx) => {
        const wanted = ctx.oidc.body?.client_id;
        return typeof wanted === 'string' && wanted ? wanted : `client-${randomBytes(8).toString('hex')}`;
      },
    },
    revocation: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resourceIndicator, client) => {
        if (resourceIndicator !== RESOURCE) {
          throw new errors.InvalidTarget(`unknown resource, use ${RESOURCE}`);
        }
        return {
          scope: 'api',
          audience: AUDIENCE,
          accessTokenFormat: 'jwt',
          accessTokenTTL: TTL_SECONDS,
          jwt: { sign: { alg: client?.idTokenSignedResponseAlg ?? 'RS256' } },
        };
      },
    },
  },
  extraTokenClaims: (_ctx, token) => {
    // A user's token carries the user's claims, a client's its own.
    const claims = token.accountId ? userClaims(token.accountId) : token.client?.metadata().essp_claims;
    return claims ? structuredClone(claims) : undefined;
  },
  ttl: {
    ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? TTL_SECONDS,
    AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? TTL_SECONDS,
    // Long enough for any test; refresh tokens end with the session.
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
    IdToken: 3600,
    RefreshToken: 3600,
  },
  // Browsers may call the token and revocation endpoints only for a public
  // client, and only from the origin of one of its redirect URIs.
  clientBasedCORS: (_ctx, origin, client) =>
    client.clientAuthMethod === 'none' && client.redirectUris.some((uri) => URL.parse(uri)?.origin === origin),
});
// Plain http on loopback: nothing here is behind a TLS-terminating proxy.
provider.proxy = false;
provider.on('server_error', (_ctx, err) => console.error('oidc-provider server_error:', err));

server.on('request', provider.callback());

process.stdout.write(
  `${JSON.stringify({
    ready: true,
    port: actualPort,
    issuer,
    jwks_uri: `${issuer}/jwks`,
    token_endpoint: `${issuer}/token`,
    registration_endpoint: `${issuer}/reg`,
    registration_token: registrationToken,
  })}\n`,
);

// ------------------------------------------------------------ shutdown

let stopping = false;
function shutdown() {
  if (stopping) return;
  stopping = true;
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
if (args['watch-stdin']) {
  process.stdin.on('end', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
}
