/**
 * Discord OAuth2 for subscribers: the authorize URL, the code exchange (form-encoded, as Discord requires) and the
 * user lookup. Access tokens are returned to the caller, used, revoked, and never stored.
 */
import { z } from 'zod';
import { SNOWFLAKE, type DiscordConfig } from '../config.js';
import { ArbiterError, isArbiterError } from '../errors.js';
import { fetchJson } from '../net/fetch-json.js';

export const SUBSCRIBER_SCOPES = ['identify', 'guilds.join'] as const;

export interface DiscordUser {
  id: string;
  username: string;
  globalName: string | null;
}

const TokenAnswer = z.object({ access_token: z.string().min(1), token_type: z.string(), scope: z.string().default('') });
const UserAnswer = z.object({ id: z.string().regex(SNOWFLAKE), username: z.string(), global_name: z.string().nullish() });

export function authorizeUrl(config: DiscordConfig, redirectUri: string, state: string, scopes: readonly string[]): string {
  const params = new URLSearchParams({
    client_id: config.clientId,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: scopes.join(' '),
    state,
  });
  return `${config.authorizeUrl}?${params}`;
}

/**
 * The last time Discord refused this server's own OAuth credentials, in words and when: a configuration problem an
 * admin must fix, kept where /health can show it. Null while there has been none since the start.
 */
export interface OAuthStatus {
  lastConfigProblem: { message: string; at: string } | null;
}

/** The token endpoint's errors that mean our client ID or secret is wrong, not that the subscriber did anything. */
const CLIENT_ERRORS = new Set(['invalid_client', 'unauthorized_client']);
/** A 429 asking for no longer than this is waited out once within the request; a longer one is answered "busy". */
const MAX_INLINE_WAIT_MS = 2_000;

/** Told of every answer Discord gives (for /metrics): the method, the API path after /v10, the status. */
export type DiscordObserver = (method: string, path: string, status: number) => void;

async function request(config: DiscordConfig, path: string, init: RequestInit, what: string, observe?: DiscordObserver) {
  const answer = await fetchJson(`${config.apiUrl}/v10${path}`, init, { code: 'discord_unavailable', message: `Discord could not be reached while ${what}` });
  observe?.(init.method ?? 'GET', path, answer.status);
  return answer;
}

/**
 * Exchanges an authorization code. Errors: a used, expired or foreign code is `oauth_failed` with
 * `details.error` "invalid_grant" (other refusals carry their own error name); credentials Discord rejects are
 * `config_invalid`; a 429 that lasts is `discord_rate_limited`; 5xx and no answer are `discord_unavailable`.
 */
export async function exchangeCode(config: DiscordConfig, code: string, redirectUri: string, scopes: readonly string[], observe?: DiscordObserver): Promise<string> {
  const exchange = () =>
    request(
      config,
      '/oauth2/token',
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code,
          redirect_uri: redirectUri,
          client_id: config.clientId,
          client_secret: config.clientSecret,
        }),
      },
      'signing you in',
      observe,
    );
  let { status, body } = await exchange();
  if (status === 429) {
    // A rate-limited request was not processed, so the code is still unspent and may be sent again.
    const waitMs = retryAfterMs(body);
    if (waitMs <= MAX_INLINE_WAIT_MS) {
      await new Promise((resolve) => setTimeout(resolve, waitMs));
      ({ status, body } = await exchange());
    }
    if (status === 429) {
      const retryAfter = retryAfterMs(body);
      throw new ArbiterError('discord_rate_limited', 'Discord rate-limited the sign-in (429 from the token endpoint)', {
        status: 503,
        retryable: true,
        retryAfterMs: Number.isFinite(retryAfter) ? retryAfter : undefined,
      });
    }
  }
  if (status >= 500) throw new ArbiterError('discord_unavailable', `Discord answered ${status} while signing you in`, { status: 502, retryable: true });
  const parsed = TokenAnswer.safeParse(body);
  if (status !== 200 || !parsed.success) {
    const answered = (body as { error?: unknown } | undefined)?.error;
    const error = typeof answered === 'string' ? answered : String(status);
    if (CLIENT_ERRORS.has(error)) {
      throw new ArbiterError('config_invalid', `Discord rejected DISCORD_CLIENT_ID/DISCORD_CLIENT_SECRET (${error}): check them against the application in the Discord developer portal`, { status: 503 });
    }
    throw new ArbiterError('oauth_failed', `Discord did not accept the sign-in (${error})`, { status: 400, details: { error } });
  }
  const granted = new Set(parsed.data.scope.split(' '));
  const missing = scopes.filter((s) => !granted.has(s));
  if (parsed.data.scope && missing.length > 0) {
    throw new ArbiterError('oauth_failed', `Discord did not grant ${missing.join(', ')}`, { status: 400 });
  }
  return parsed.data.access_token;
}

/** Discord's retry_after (seconds) as milliseconds; Infinity when the answer does not say. */
function retryAfterMs(body: unknown): number {
  const seconds = (body as { retry_after?: unknown } | undefined)?.retry_after;
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds * 1000) : Infinity;
}

export async function fetchUser(config: DiscordConfig, accessToken: string, observe?: DiscordObserver): Promise<DiscordUser> {
  const { status, body } = await request(config, '/users/@me', { headers: { authorization: `Bearer ${accessToken}` } }, 'reading your account', observe);
  const parsed = UserAnswer.safeParse(body);
  if (status !== 200 || !parsed.success) {
    throw new ArbiterError(status >= 500 ? 'discord_unavailable' : 'oauth_failed', `Discord did not return your account (${status})`, { status: 502 });
  }
  return { id: parsed.data.id, username: parsed.data.username, globalName: parsed.data.global_name ?? null };
}

/** Best effort: the token is dropped either way. */
export async function revokeToken(config: DiscordConfig, accessToken: string, observe?: DiscordObserver): Promise<void> {
  await request(
    config,
    '/oauth2/token/revoke',
    {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: accessToken, token_type_hint: 'access_token', client_id: config.clientId, client_secret: config.clientSecret }),
    },
    'revoking the sign-in',
    observe,
  ).catch(() => undefined);
}

/**
 * A sign-in that only asks who the person is (the admin panel, the OpenID Connect provider): the code exchanged, the
 * user read, the access token revoked at once. Null when Discord refused the code (used already, or too late).
 */
export async function identify(config: DiscordConfig, code: string, redirectUri: string, scopes: readonly string[], observe?: DiscordObserver): Promise<DiscordUser | null> {
  let accessToken: string;
  try {
    accessToken = await exchangeCode(config, code, redirectUri, scopes, observe);
  } catch (err) {
    if (isArbiterError(err) && err.code === 'oauth_failed') return null;
    throw err;
  }
  try {
    return await fetchUser(config, accessToken, observe);
  } finally {
    void revokeToken(config, accessToken, observe);
  }
}

/**
 * Whether Discord accepts DISCORD_CLIENT_ID and DISCORD_CLIENT_SECRET, checked without a user: the application asks
 * for its own token (the client credentials grant), which is revoked at once. `error` is null when accepted, else
 * the token endpoint's error name (invalid_client: a wrong ID or secret) or the HTTP status.
 */
export async function checkClientCredentials(config: DiscordConfig): Promise<{ status: number; error: string | null }> {
  const { status, body } = await request(
    config,
    '/oauth2/token',
    {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'identify', client_id: config.clientId, client_secret: config.clientSecret }),
    },
    'checking the OAuth client',
  );
  const parsed = TokenAnswer.safeParse(body);
  if (status === 200 && parsed.success) {
    await revokeToken(config, parsed.data.access_token);
    return { status, error: null };
  }
  const answered = (body as { error?: unknown } | undefined)?.error;
  return { status, error: typeof answered === 'string' ? answered : String(status) };
}

/** When a Discord account was created, from its snowflake ID. */
export function accountCreatedAt(userId: string): Date {
  return new Date(Number((BigInt(userId) >> 22n) + 1420070400000n));
}
