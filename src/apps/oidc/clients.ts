/**
 * The relying parties allowed to sign people in through Arbiter, from the JSON file OIDC_CLIENTS_FILE names.
 * Secrets are kept there only as SHA-256 hashes (`arbiter oidc client-secret` makes a secret and its hash).
 * `arbiter oidc add-client` and `remove-client` edit the file with the same checks.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { ArbiterError } from '../../errors.js';
import { sha256Hex } from '../../secure-compare.js';
import { writeWhole } from '../../write-whole.js';

export const OIDC_SCOPES = ['openid', 'profile', 'tiers', 'offline_access'] as const;
export type OidcScope = (typeof OIDC_SCOPES)[number];

export interface OidcClient {
  clientId: string;
  name: string;
  /** Hex SHA-256 of the secret; null for a public client, which must use PKCE and has no secret. */
  secretHash: string | null;
  authMethod: 'client_secret_basic' | 'client_secret_post' | 'none';
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  scopes: OidcScope[];
  idTokenAlg: 'RS256' | 'ES256';
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** https, or http to this machine only (a desktop app or a developer); no fragment; exact strings are compared. */
const redirectUri = z.string().superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not an absolute URL` });
    return;
  }
  if (url.hash || value.includes('#')) ctx.addIssue({ code: 'custom', message: `"${value}" must not have a #fragment` });
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return;
  ctx.addIssue({ code: 'custom', message: `"${value}" must be https (http only for 127.0.0.1, [::1] or localhost)` });
});

const ClientSchema = z.strictObject({
  client_id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1 to 64 letters, digits, . _ -'),
  client_name: z.string().min(1).max(100).optional(),
  client_secret_hash: z
    .string()
    .regex(/^([0-9a-f]{64}|public)$/, 'must be the hex SHA-256 of the secret (64 characters 0-9 a-f, from `arbiter oidc client-secret`) or "public" for a client without a secret that uses PKCE'),
  token_endpoint_auth_method: z.enum(['client_secret_basic', 'client_secret_post']).optional(),
  id_token_signed_response_alg: z.enum(['RS256', 'ES256']).default('RS256'),
  redirect_uris: z.array(redirectUri).min(1, 'at least one redirect URI is needed'),
  post_logout_redirect_uris: z.array(redirectUri).default([]),
  // Checked by hand so that an unknown scope and a missing openid are both reported in one run.
  scopes: z.array(z.string()).superRefine((scopes, ctx) => {
    scopes.forEach((scope, i) => {
      if (!(OIDC_SCOPES as readonly string[]).includes(scope)) ctx.addIssue({ code: 'custom', path: [i], message: `each scope must be one of ${OIDC_SCOPES.join(', ')}` });
    });
    if (!scopes.includes('openid')) ctx.addIssue({ code: 'custom', message: 'must include openid' });
  }),
});

const ClientsSchema = z.strictObject({
  clients: z.array(ClientSchema).superRefine((clients, ctx) => {
    const seen = new Set<string>();
    clients.forEach((c, i) => {
      if (seen.has(c.client_id)) ctx.addIssue({ code: 'custom', path: [i, 'client_id'], message: `"${c.client_id}" is listed twice` });
      seen.add(c.client_id);
      if (c.client_secret_hash === 'public' && c.token_endpoint_auth_method) {
        ctx.addIssue({ code: 'custom', path: [i, 'token_endpoint_auth_method'], message: 'a public client has no secret to send' });
      }
    });
  }),
});

export const CLIENTS_EXAMPLE =
  '{"clients": [{"client_id": "wiki", "client_secret_hash": "<from arbiter oidc client-secret>", "redirect_uris": ["https://wiki.example.com/callback"], "scopes": ["openid", "profile", "tiers"]}]}';

const issuesOf = (path: string, error: z.ZodError) =>
  error.issues.map((issue) => `OIDC_CLIENTS_FILE (${path}) at ${issue.path.join('.') || 'top level'}: ${issue.message}`);

/** Reads and checks the file; every problem is added to `problems` with where it is. */
export function loadOidcClients(path: string, problems: string[]): OidcClient[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : `not valid JSON (${(err as Error).message})`;
    problems.push(`OIDC_CLIENTS_FILE (${path}): ${why} (example: ${CLIENTS_EXAMPLE})`);
    return [];
  }
  const parsed = ClientsSchema.safeParse(raw);
  if (!parsed.success) {
    problems.push(...issuesOf(path, parsed.error));
    return [];
  }
  return parsed.data.clients.map((c) => ({
    clientId: c.client_id,
    name: c.client_name ?? c.client_id,
    secretHash: c.client_secret_hash === 'public' ? null : c.client_secret_hash,
    authMethod: c.client_secret_hash === 'public' ? 'none' : (c.token_endpoint_auth_method ?? 'client_secret_basic'),
    redirectUris: c.redirect_uris,
    postLogoutRedirectUris: c.post_logout_redirect_uris,
    scopes: [...new Set(c.scopes as OidcScope[])],
    idTokenAlg: c.id_token_signed_response_alg,
  }));
}

/** 32 random bytes: a secret nobody guesses, so an unsalted fast hash of it is safe to keep. */
export function newClientSecret(): { secret: string; hash: string } {
  const secret = randomBytes(32).toString('base64url');
  return { secret, hash: sha256Hex(secret) };
}

export interface NewClient {
  clientId: string;
  name?: string | undefined;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  scopes: string[];
  /** No secret: the app must use PKCE (a desktop or browser app). */
  public: boolean;
}

type RawClients = { clients: Record<string, unknown>[] } & Record<string, unknown>;

/** Changes the file as a whole: the result is checked like at start, then written beside it and renamed over it. */
function editClients(path: string, change: (file: RawClients) => void): void {
  const file = JSON.parse(readFileSync(path, 'utf8')) as RawClients;
  change(file);
  const checked = ClientsSchema.safeParse(file);
  if (!checked.success) throw new ArbiterError('bad_request', `${issuesOf(path, checked.error).join('; ')}. Nothing was changed.`);
  try {
    writeWhole(path, `${JSON.stringify(file, null, 2)}\n`, { mode: statSync(path).mode & 0o777 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') throw err;
    throw new ArbiterError('forbidden', `Cannot write beside ${path} (${code}): run this as a user who may change that file and its folder (for example with sudo). Nothing was changed.`);
  }
}

/** Adds an app; returns its secret, which is kept nowhere (null for a public app). */
export function addOidcClient(path: string, client: NewClient): { secret: string | null } {
  const made = client.public ? null : newClientSecret();
  editClients(path, (file) => {
    if (!Array.isArray(file.clients)) return;
    file.clients.push({
      client_id: client.clientId,
      ...(client.name ? { client_name: client.name } : {}),
      client_secret_hash: made ? made.hash : 'public',
      redirect_uris: client.redirectUris,
      ...(client.postLogoutRedirectUris.length > 0 ? { post_logout_redirect_uris: client.postLogoutRedirectUris } : {}),
      scopes: client.scopes,
    });
  });
  return { secret: made?.secret ?? null };
}

export function removeOidcClient(path: string, clientId: string): void {
  editClients(path, (file) => {
    const index = Array.isArray(file.clients) ? file.clients.findIndex((c) => c.client_id === clientId) : -1;
    if (index < 0) throw new ArbiterError('not_found', `OIDC_CLIENTS_FILE (${path}) has no app "${clientId}". Nothing was changed.`);
    file.clients.splice(index, 1);
  });
}
