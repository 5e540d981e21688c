/**
 * Discord OAuth2 for subscribers: the authorize URL, the code exchange (form-encoded, as Discord requires) and the
 * user lookup. Access tokens are returned to the caller, used, revoked, and never stored.
 */
import { z } from 'zod';
import type { DiscordConfig } from '../config.js';
import { ArbiterError } from '../errors.js';
import { fetchJson } from '../net/fetch-json.js';

export const SUBSCRIBER_SCOPES = ['identify', 'guilds.join'] as const;

export interface DiscordUser {
  id: string;
  username: string;
  globalName: string | null;
}

const TokenAnswer = z.object({ access_token: z.string().min(1), token_type: z.string(), scope: z.string().default('') });
const UserAnswer = z.object({ id: z.string().regex(/^\d{17,20}$/), username: z.string(), global_name: z.string().nullish() });

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

function request(url: string, init: RequestInit, what: string) {
  return fetchJson(url, init, { code: 'discord_unavailable', message: `Discord could not be reached while ${what}` });
}

/** Exchanges an authorization code; a used, expired or foreign code is `oauth_failed`. */
export async function exchangeCode(config: DiscordConfig, code: string, redirectUri: string, scopes: readonly string[]): Promise<string> {
  const { status, body } = await request(
    `${config.apiUrl}/v10/oauth2/token`,
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
  );
  if (status >= 500) throw new ArbiterError('discord_unavailable', `Discord answered ${status} while signing you in`, { status: 502, retryable: true });
  const parsed = TokenAnswer.safeParse(body);
  if (status !== 200 || !parsed.success) {
    const error = (body as { error?: unknown } | undefined)?.error;
    throw new ArbiterError('oauth_failed', `Discord did not accept the sign-in (${typeof error === 'string' ? error : status})`, { status: 400 });
  }
  const granted = new Set(parsed.data.scope.split(' '));
  const missing = scopes.filter((s) => !granted.has(s));
  if (parsed.data.scope && missing.length > 0) {
    throw new ArbiterError('oauth_failed', `Discord did not grant ${missing.join(', ')}`, { status: 400 });
  }
  return parsed.data.access_token;
}

export async function fetchUser(config: DiscordConfig, accessToken: string): Promise<DiscordUser> {
  const { status, body } = await request(`${config.apiUrl}/v10/users/@me`, { headers: { authorization: `Bearer ${accessToken}` } }, 'reading your account');
  const parsed = UserAnswer.safeParse(body);
  if (status !== 200 || !parsed.success) {
    throw new ArbiterError(status >= 500 ? 'discord_unavailable' : 'oauth_failed', `Discord did not return your account (${status})`, { status: 502 });
  }
  return { id: parsed.data.id, username: parsed.data.username, globalName: parsed.data.global_name ?? null };
}

/** Best effort: the token is dropped either way. */
export async function revokeToken(config: DiscordConfig, accessToken: string): Promise<void> {
  await request(
    `${config.apiUrl}/v10/oauth2/token/revoke`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: accessToken, token_type_hint: 'access_token', client_id: config.clientId, client_secret: config.clientSecret }),
    },
    'revoking the sign-in',
  ).catch(() => undefined);
}

/** When a Discord account was created, from its snowflake ID. */
export function accountCreatedAt(userId: string): Date {
  return new Date(Number((BigInt(userId) >> 22n) + 1420070400000n));
}
