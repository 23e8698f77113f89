// The configuration of npm's oidc-provider for latchkey's interoperability
// tests: one confidential client, PKCE, RP-initiated and back-channel logout,
// and the built-in development login and consent pages.
import { randomBytes } from 'node:crypto';

// The one user's profile; any login name signs in as a user with these claims.
const profile = {
  name: 'Interop User',
  email: 'interop@example.com',
  email_verified: true,
};

// configuration returns the provider's configuration for the latchkey
// client described by the LK_* environment variables.
export function configuration(env) {
  return {
    clients: [
      {
        client_id: env.LK_CLIENT_ID,
        client_secret: env.LK_CLIENT_SECRET,
        redirect_uris: [env.LK_REDIRECT_URI],
        post_logout_redirect_uris: [env.LK_POST_LOGOUT_URI],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        backchannel_logout_uri: env.LK_BACKCHANNEL_URI,
        backchannel_logout_session_required: true,
      },
    ],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      backchannelLogout: { enabled: true },
    },
    claims: {
      openid: ['sub'],
      profile: ['name'],
      email: ['email', 'email_verified'],
    },
    async findAccount(ctx, sub) {
      return { accountId: sub, claims: async () => ({ sub, ...profile }) };
    },
    // oidc-provider grants offline_access only to requests with
    // prompt=consent (OpenID Connect Core 11), which latchkey does not send;
    // so refresh tokens go to every code grant of a client allowed them.
    async issueRefreshToken(ctx, client) {
      return client.grantTypeAllowed('refresh_token');
    },
    // Shorter than latchkey's 30-second expiry margin, so every "Refresh
    // profile" has to refresh the access token first.
    ttl: { AccessToken: 10 },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    // The default fetch refuses loopback addresses; latchkey's back-channel
    // logout endpoint is on 127.0.0.1 here.
    fetch: (url, { dispatcher, ...options }) => fetch(url, options),
  };
}
