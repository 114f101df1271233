// A real OpenID provider for the SSO tests: panva's oidc-provider (OpenID Certified) on 127.0.0.1.
//
//   node provider.mjs CONFIG.json
//
// CONFIG holds {port, clients: [...], users: {sub: {email, name, preferred_username, groups}}}. It is read
// again at every account lookup, so a test changes a user's groups between two sign-ins by rewriting it.
// The login and consent pages are the package's own development interactions (any password is taken: the
// tests are about what the dashboard does with the claims, not about the IdP's password check).
import fs from 'node:fs';
import Provider from 'oidc-provider';

const path = process.argv[2];
const read = () => JSON.parse(fs.readFileSync(path, 'utf8'));
const config = read();
const issuer = `http://127.0.0.1:${config.port}`;

const provider = new Provider(issuer, {
  clients: config.clients,
  scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  async findAccount(ctx, sub) {
    const user = read().users[sub];
    if (!user) return undefined;
    return { accountId: sub, claims: async () => ({ sub, email_verified: true, ...user }) };
  },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true }, backchannelLogout: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  cookies: { keys: ['oidc-test-cookie-key'] },
  ttl: { IdToken: config.idTokenTtl || 3600 },
  // Its SSRF guard refuses loopback addresses, where the tests' dashboard takes the back-channel logout.
  fetch: (url, { dispatcher, ...options }) => globalThis.fetch(url, options),
});
for (const event of ['backchannel.success', 'backchannel.error', 'server_error', 'grant.error']) {
  provider.on(event, (ctx, ...args) => console.log(event, ...args.map((a) => (a instanceof Error ? `${a.message} ${a.cause || ''}` : a))));
}
provider.listen(config.port, '127.0.0.1', () => console.log(`oidc-provider listening on ${issuer}`));
