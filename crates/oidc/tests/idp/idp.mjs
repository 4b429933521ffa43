// A real OpenID Connect provider for the limes-oidc integration tests:
// `node idp.mjs PORT [KEY_GENERATION]`.
//
// It is panva's `oidc-provider` (the certified Node.js implementation; 8.x, which supports
// Node.js 18 and 20, where 9.x wants 22) with:
// - fresh signing keys at every start (RSA, P-256, Ed25519, with kids `rsa-GENERATION`…),
//   published at /jwks;
// - the confidential client `limes-node-test` (client_secret_basic) and `limes-node-post`
//   (client_secret_post), both allowed client_credentials and authorization_code, redirecting to
//   REDIRECT_URI, which the tests intercept and never serve;
// - resource indicators issuing JWT access tokens (typ at+jwt) for the audience `limes-node`,
//   signed with RS256, ES256 or EdDSA, one living 1 s, one signed with HS256 (which limes
//   refuses), and one resource for another audience (`other-node`);
// - accounts with the claims limes reads (`roles`, `agency`, `clearance`) in ID and access tokens;
// - the development login and consent pages (any login name, any password).
//
// It prints `listening on http://127.0.0.1:PORT` once it accepts connections, and exits when its
// standard input closes, so a test that dies does not leave it behind.
import { generateKeyPairSync } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';

const port = Number.parseInt(process.argv[2] ?? '', 10);
// The generation names the keys (`rsa-1`…): a provider restarted with another one has rotated them.
const generation = process.argv[3] ?? '1';
if (!Number.isInteger(port) || port <= 0 || port > 65535 || !/^[0-9]+$/.test(generation)) {
  console.error('usage: node idp.mjs PORT [KEY_GENERATION]');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const REDIRECT_URI = 'http://127.0.0.1:9/limes/oidc/callback';

function signingKey(type, options, kid, alg) {
  const jwk = generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' });
  return { ...jwk, kid, use: 'sig', ...(alg ? { alg } : {}) };
}

const keys = [
  signingKey('rsa', { modulusLength: 2048 }, `rsa-${generation}`, 'RS256'),
  signingKey('ec', { namedCurve: 'P-256' }, `ec-${generation}`, 'ES256'),
  signingKey('ed25519', {}, `ed-${generation}`, 'EdDSA'),
];

const accounts = {
  alice: {
    name: 'Alice Popescu',
    preferred_username: 'alice',
    email: 'alice@igpf.example',
    email_verified: true,
    roles: ['analyst', 'operator'],
    agency: 'ro-igpf',
    clearance: 'restricted',
  },
  bob: {
    name: 'Bob Kovalenko',
    preferred_username: 'bob',
    email: 'bob@dpsu.example',
    email_verified: false,
    roles: ['operator'],
    agency: 'ua-dpsu',
    clearance: 'basic',
  },
};

function accountClaims(id) {
  return accounts[id] ?? { preferred_username: id, roles: [], agency: 'unknown' };
}

// Resource indicators (absolute URIs) and the resource server each one names.
const resources = {
  'urn:limes:node': { audience: 'limes-node', accessTokenTTL: 300, jwt: { sign: { alg: 'RS256' } } },
  'urn:limes:node:es256': { audience: 'limes-node', accessTokenTTL: 300, jwt: { sign: { alg: 'ES256' } } },
  'urn:limes:node:eddsa': { audience: 'limes-node', accessTokenTTL: 300, jwt: { sign: { alg: 'EdDSA' } } },
  'urn:limes:node:short': { audience: 'limes-node', accessTokenTTL: 1, jwt: { sign: { alg: 'RS256' } } },
  'urn:limes:node:hs256': {
    audience: 'limes-node',
    accessTokenTTL: 300,
    jwt: { sign: { alg: 'HS256', key: 'a shared secret the node must never accept tokens under' } },
  },
  'urn:limes:other': { audience: 'other-node', accessTokenTTL: 300, jwt: { sign: { alg: 'RS256' } } },
};

const client = {
  client_secret: 'limes-test-secret',
  grant_types: ['authorization_code', 'client_credentials'],
  response_types: ['code'],
  redirect_uris: [REDIRECT_URI],
  scope: 'openid profile email limes',
};

const provider = new Provider(issuer, {
  clients: [
    { ...client, client_id: 'limes-node-test', token_endpoint_auth_method: 'client_secret_basic' },
    { ...client, client_id: 'limes-node-post', token_endpoint_auth_method: 'client_secret_post' },
  ],
  jwks: { keys },
  cookies: { keys: ['limes-oidc-test-cookie-key'] },
  scopes: ['openid', 'profile', 'email', 'limes'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
    limes: ['roles', 'agency', 'clearance'],
  },
  // The profile claims go into the ID token itself, as most agency identity providers do.
  conformIdTokenClaims: false,
  // PKCE on every authorization request, confidential clients included.
  pkce: { required: () => true },
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...accountClaims(id) };
      },
    };
  },
  async extraTokenClaims(_ctx, token) {
    if (token.accountId) {
      const { roles, agency, clearance } = accountClaims(token.accountId);
      return { roles, agency, clearance };
    }
    // client_credentials: an integration acting for its agency.
    return { roles: ['integration'], agency: 'ro-igpf' };
  },
  features: {
    clientCredentials: { enabled: true },
    devInteractions: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => undefined,
      useGrantedResource: async () => true,
      async getResourceServerInfo(_ctx, indicator) {
        const info = resources[indicator];
        if (!info) throw new errors.InvalidTarget();
        return { scope: 'read', accessTokenFormat: 'jwt', ...info };
      },
    },
  },
  ttl: {
    AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 300,
    ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 300,
    AuthorizationCode: 60,
    IdToken: 300,
    Grant: 600,
    Interaction: 600,
    Session: 600,
  },
});

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`listening on ${issuer}`);
});
server.on('error', (error) => {
  console.error(`cannot listen on ${issuer}: ${error.message}`);
  process.exit(1);
});
