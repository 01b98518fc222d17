// Test-only OpenID Connect provider standing in for Keycloak in ESSP
// integration tests. Issues client-credentials JWT access tokens carrying
// Keycloak-shaped claims, serves discovery and JWKS, and supports key
// rotation across restarts. Never use outside tests.
//
//   node provider.mjs --port 0 --keys <dir> [--rotate] [--watch-stdin]
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
  },
  strict: true,
});
if (!args.keys) {
  console.error('usage: node provider.mjs --port <n> --keys <dir> [--rotate] [--watch-stdin]');
  process.exit(2);
}
const port = Number(args.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid --port ${args.port}`);
  process.exit(2);
}
const dir = args.keys;
mkdirSync(dir, { recursive: true });

/// The audience Keycloak puts in tokens for the API client.
const AUDIENCE = 'essp-api';
/// Resource indicators must be absolute URIs in oidc-provider, so the
/// resource is a URN while the `aud` claim stays plain "essp-api".
const RESOURCE = 'urn:essp:api';
const TTL_SECONDS = 300;

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

// ------------------------------------------------------------ provider

const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
});
const actualPort = server.address().port;
const issuer = `http://127.0.0.1:${actualPort}`;

const provider = new Provider(issuer, {
  clients,
  jwks,
  cookies: { keys: [randomBytes(32).toString('hex')] },
  extraClientMetadata: {
    properties: ['essp_claims'],
    validator(_ctx, key, value) {
      if (key === 'essp_claims' && (typeof value !== 'object' || value === null || Array.isArray(value))) {
        throw new Error('essp_claims must be a JSON object');
      }
    },
  },
  features: {
    devInteractions: { enabled: false },
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
    const claims = token.client?.metadata().essp_claims;
    return claims ? structuredClone(claims) : undefined;
  },
  ttl: {
    ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? TTL_SECONDS,
  },
  clientBasedCORS: () => false,
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
