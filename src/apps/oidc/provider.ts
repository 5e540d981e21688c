/**
 * Arbiter as an OpenID Connect provider (oidc-provider): the issuer is APP_URL, the endpoints live under /oidc,
 * people sign in with Discord, and scope `tiers` adds what the database says of their subscription.
 */
import { hkdfSync } from 'node:crypto';
import Provider, { errors, type Account, type ClientMetadata, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { standingOf } from '../standing.js';
import { OIDC_SCOPES, type OidcClient } from './clients.js';
import { sqliteAdapter } from './adapter.js';
import { ACCOUNT_MODEL, ID_TOKEN_TTL, OIDC_PREFIX, REFRESH_TOKEN_TTL, type AccountRecord } from './constants.js';
import { providerJwks, type StoredKey } from './keys.js';
import { logoutPage, oidcErrorPage, signedOutPage } from './pages.js';
import { equalSecret, sha256Hex } from '../../secure-compare.js';
import type { Services } from '../../services.js';

const ACCESS_TOKEN_TTL = 3600;
const SESSION_TTL = 14 * 86_400;

function clientMetadata(client: OidcClient): ClientMetadata {
  return {
    client_id: client.clientId,
    client_name: client.name,
    // oidc-provider wants a client_secret for these methods: it holds the hash, and compareClientSecret (below)
    // hashes what the client sends before comparing. The hash is never a key for anything, because every use
    // of client_secret as a key (HS256 signatures, client_secret_jwt, symmetric encryption) is switched off.
    ...(client.secretHash ? { client_secret: client.secretHash } : {}),
    token_endpoint_auth_method: client.authMethod,
    redirect_uris: client.redirectUris,
    post_logout_redirect_uris: client.postLogoutRedirectUris,
    response_types: ['code'],
    grant_types: client.scopes.includes('offline_access') ? ['authorization_code', 'refresh_token'] : ['authorization_code'],
    scope: client.scopes.join(' '),
    id_token_signed_response_alg: client.idTokenAlg,
  };
}

export function buildProvider(services: Services, keys: StoredKey[]): Provider {
  const { config, db, clock, log } = services;
  const adapter = sqliteAdapter(db, clock, (model) => new errors.InvalidGrant(`${model === 'AuthorizationCode' ? 'authorization code' : model} already consumed`));
  const accounts = adapter(ACCOUNT_MODEL);
  const secure = config.secureCookies;
  // Cookie signing keys derived from SESSION_SECRET: stable across restarts, and never the secret itself.
  const cookieKey = Buffer.from(hkdfSync('sha256', config.sessionSecret, 'arbiter', 'oidc-provider cookies', 32)).toString('base64url');
  const cookie = { httpOnly: true, sameSite: 'lax' as const, secure, signed: true };

  const configuration: Configuration = {
    adapter,
    clients: config.oidcClients.map(clientMetadata),
    jwks: providerJwks(keys) as Configuration['jwks'],
    cookies: {
      keys: [cookieKey],
      names: { session: 'oidc.session', interaction: 'oidc.interaction', resume: 'oidc.resume' },
      long: cookie,
      short: cookie,
    },
    routes: {
      authorization: `${OIDC_PREFIX}/auth`,
      token: `${OIDC_PREFIX}/token`,
      jwks: `${OIDC_PREFIX}/jwks`,
      userinfo: `${OIDC_PREFIX}/me`,
      end_session: `${OIDC_PREFIX}/session/end`,
      revocation: `${OIDC_PREFIX}/token/revocation`,
      introspection: `${OIDC_PREFIX}/token/introspection`,
      pushed_authorization_request: `${OIDC_PREFIX}/request`,
      registration: `${OIDC_PREFIX}/reg`,
      code_verification: `${OIDC_PREFIX}/device`,
      device_authorization: `${OIDC_PREFIX}/device/auth`,
      backchannel_authentication: `${OIDC_PREFIX}/backchannel`,
      challenge: `${OIDC_PREFIX}/challenge`,
      credential: `${OIDC_PREFIX}/credential`,
    },
    interactions: { url: (_ctx, interaction) => `${OIDC_PREFIX}/interaction/${interaction.uid}` },
    scopes: [...OIDC_SCOPES],
    claims: {
      openid: ['sub'],
      profile: ['preferred_username'],
      tiers: ['tiers', 'roles', 'subscription_status'],
    },
    responseTypes: ['code'],
    // PKCE for every client, with or without a secret: a stolen code is worthless without the verifier.
    pkce: { required: () => true },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'ES256'],
      userinfoSigningAlgValues: ['RS256', 'ES256'],
      requestObjectSigningAlgValues: ['RS256', 'ES256'],
      clientAuthSigningAlgValues: ['RS256', 'ES256'],
      authorizationSigningAlgValues: ['RS256', 'ES256'],
      introspectionSigningAlgValues: ['RS256', 'ES256'],
    },
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: false },
      introspection: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      resourceIndicators: { enabled: false },
      dPoP: { enabled: false },
      deviceFlow: { enabled: false },
      clientCredentials: { enabled: false },
      claimsParameter: { enabled: false },
      encryption: { enabled: false },
      userinfo: { enabled: true },
      revocation: {
        enabled: true,
        // A client may revoke only its own tokens.
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx, form) => {
          ctx.type = 'html';
          ctx.body = logoutPage(form, new URL(config.appUrl).host);
        },
        postLogoutSuccessSource: (ctx) => {
          ctx.type = 'html';
          ctx.body = signedOutPage(ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId);
        },
      },
    },
    ttl: {
      AccessToken: ACCESS_TOKEN_TTL,
      AuthorizationCode: 60,
      IdToken: ID_TOKEN_TTL,
      Interaction: 30 * 60,
      Session: SESSION_TTL,
      Grant: REFRESH_TOKEN_TTL,
      RefreshToken: REFRESH_TOKEN_TTL,
    },
    // A browser app may call the token and userinfo endpoints from the origin of one of its own redirect URIs.
    clientBasedCORS: (ctx, origin, client) =>
      (ctx.oidc.route === 'userinfo' || client.clientAuthMethod === 'none') && (client.redirectUris ?? []).some((uri) => new URL(uri).origin === origin),
    renderError: (ctx, out) => {
      ctx.type = 'html';
      ctx.body = oidcErrorPage(out.error, out.error_description);
    },
    async findAccount(_ctx, sub): Promise<Account> {
      const stored = (await accounts.find(sub)) as AccountRecord | undefined;
      return {
        accountId: sub,
        async claims() {
          const standing = standingOf(services, sub);
          return {
            sub,
            ...(stored?.username ? { preferred_username: stored.username } : {}),
            tiers: standing.tiers,
            roles: standing.roles.map((r) => r.roleId),
            subscription_status: standing.subscriptionStatus,
          };
        },
      };
    },
  };

  const provider = new Provider(config.appUrl, configuration);
  // Express has judged X-Forwarded-* by TRUST_PROXY already; the mount hands the provider only what it decided.
  provider.proxy = true;
  // Client secrets are kept only as SHA-256 hashes. oidc-provider compares secrets in Client#compareClientSecret, the
  // prototype method it exposes for this (it awaits it during client authentication): here it hashes what the
  // client sent and compares hashes in constant time. Storing a plaintext or reversible secret instead would put a
  // usable credential in the clients file and its backups. The secrets are 256 random bits (arbiter oidc
  // client-secret), so a fast unsalted hash leaves nothing to guess.
  provider.Client.prototype.compareClientSecret = function compareClientSecret(this: { clientSecret?: string }, actual: string) {
    return typeof this.clientSecret === 'string' && equalSecret(sha256Hex(actual), this.clientSecret);
  };
  auditEvents(provider, services);
  provider.on('server_error', (_ctx: KoaContextWithOIDC, err: Error) => log.error({ err }, 'OpenID Connect provider error'));
  return provider;
}

function auditEvents(provider: Provider, services: Services): void {
  const { audit, log } = services;
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const client = ctx.oidc.client?.clientId ?? 'unknown';
    const token = ctx.oidc.entities.AccessToken;
    audit.record({
      actor: `oidc:${client}`,
      action: 'oidc.token_issued',
      discordId: token?.accountId ?? ctx.oidc.entities.Account?.accountId ?? null,
      details: { client, grantType: ctx.oidc.params?.grant_type, scope: token?.scope },
    });
  });
  provider.on('grant.error', (ctx: KoaContextWithOIDC, err: Error & { error?: string; error_description?: string }) => {
    // Only for a client that proved who it is: anyone may send garbage, and the audit log keeps every row.
    const client = ctx.oidc.client?.clientId;
    if (!client || err.error === 'invalid_client') {
      log.warn({ error: err.error, client: client ?? null }, 'OpenID Connect token request refused');
      return;
    }
    audit.record({
      actor: `oidc:${client}`,
      action: 'oidc.token_refused',
      details: { client, grantType: ctx.oidc.params?.grant_type, error: err.error, description: err.error_description },
    });
  });
  provider.on('authorization.error', (ctx: KoaContextWithOIDC, err: Error & { error?: string; error_description?: string }) => {
    log.warn({ error: err.error, description: err.error_description, client: ctx.oidc?.client?.clientId ?? null }, 'OpenID Connect authorization request refused');
  });
  provider.on('end_session.success', (ctx: KoaContextWithOIDC) => {
    const client = ctx.oidc.client?.clientId;
    audit.record({ actor: 'subscriber', action: 'oidc.signed_out', discordId: ctx.oidc.session?.accountId ?? null, details: { client: client ?? null } });
  });
}
