/**
 * API keys for /api/v1. A key is `arb_` and 32 random bytes (base64url): the prefix lets secret scanners recognise
 * one that leaked. Only its SHA-256 is stored, like a link token's; a key presented is hashed and looked up by the
 * hash, so no stored secret is ever compared with what a client sent. Keys are made, listed and revoked with the
 * command line only; creation and revocation are audited.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Acting } from '../admin/access.js';
import type { Clock } from '../clock.js';
import type { Db } from '../db/open.js';
import type { AuditLog } from '../audit/log.js';
import { ArbiterError } from '../errors.js';
import { sha256Hex } from '../secure-compare.js';

export const API_SCOPES = ['read', 'write'] as const;
export type ApiScope = (typeof API_SCOPES)[number];

export const KEY_PREFIX = 'arb_';
const KEY_FORMAT = /^arb_[A-Za-z0-9_-]{43}$/;
/** The last use is written at most this often: a busy client costs no write per request. */
const TOUCH_EVERY_MS = 60_000;

export const ApiKeyName = z
  .string({ error: 'give the name of the key' })
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a name is 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit');
export const ApiKeyScope = z.enum(API_SCOPES, { error: 'read or write' });

/** A key as anyone may see it: never the key, nor its hash. */
export interface ApiKey {
  id: number;
  name: string;
  scope: ApiScope;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface ApiKeys {
  /** Returns the key itself, which exists nowhere else afterwards. */
  create(input: { name: string; scope: ApiScope }, by: Acting): { key: string; apiKey: ApiKey };
  /** Every key, revoked ones too, by name. */
  list(): ApiKey[];
  revoke(name: string, by: Acting): ApiKey;
  /** The key in force that `presented` is, or null (malformed, unknown or revoked: the client is told the same). */
  verify(presented: string): ApiKey | null;
  /** Whether the last use on record is older than a minute (or missing): only then is a use written down. */
  useIsStale(apiKey: ApiKey): boolean;
  /** Notes that the key was used now. */
  touch(apiKey: ApiKey): void;
}

/** A program holding the key, as the audit log names it. */
export function apiActing(apiKey: Pick<ApiKey, 'name'>): Acting {
  return { actor: `api:${apiKey.name}`, name: `${apiKey.name} (API key)` };
}

const COLUMNS = 'id, name, scope, created_at, last_used_at, revoked_at';

export function createApiKeys(deps: { db: Db; audit: AuditLog; clock: Clock }): ApiKeys {
  const { db, audit, clock } = deps;
  const insert = db.prepare('INSERT INTO api_keys (name, key_hash, scope, created_at) VALUES (?, ?, ?, ?)');
  const byName = db.prepare(`SELECT ${COLUMNS} FROM api_keys WHERE name = ?`);
  const byHash = db.prepare(`SELECT ${COLUMNS} FROM api_keys WHERE key_hash = ?`);
  const all = db.prepare(`SELECT ${COLUMNS} FROM api_keys ORDER BY name`);
  const revoke = db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
  const touch = db.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ?');
  const now = () => clock.now().toISOString();

  return {
    create: db.transaction((input: { name: string; scope: ApiScope }, by: Acting) => {
      const existing = byName.get(input.name) as ApiKey | undefined;
      if (existing) {
        const state = existing.revoked_at ? `revoked ${existing.revoked_at}` : `in use since ${existing.created_at}`;
        throw new ArbiterError('conflict', `There is already an API key named "${input.name}" (${state}); names are never reused. Choose another name. Nothing was changed.`, { status: 409 });
      }
      const key = KEY_PREFIX + randomBytes(32).toString('base64url');
      insert.run(input.name, sha256Hex(key), input.scope, now());
      audit.record({ actor: by.actor, actorName: by.name, action: 'api_key.created', details: { name: input.name, scope: input.scope } });
      return { key, apiKey: byName.get(input.name) as ApiKey };
    }),
    list: () => all.all() as ApiKey[],
    revoke: db.transaction((name: string, by: Acting) => {
      const apiKey = byName.get(name) as ApiKey | undefined;
      if (!apiKey) throw new ArbiterError('not_found', `There is no API key named "${name}". Nothing was changed.`, { status: 404 });
      if (apiKey.revoked_at) throw new ArbiterError('conflict', `The API key "${name}" was already revoked at ${apiKey.revoked_at}. Nothing was changed.`, { status: 409 });
      revoke.run(now(), apiKey.id);
      audit.record({ actor: by.actor, actorName: by.name, action: 'api_key.revoked', details: { name, scope: apiKey.scope } });
      return byName.get(name) as ApiKey;
    }),
    verify(presented) {
      if (!KEY_FORMAT.test(presented)) return null;
      const apiKey = byHash.get(sha256Hex(presented)) as ApiKey | undefined;
      return apiKey && !apiKey.revoked_at ? apiKey : null;
    },
    useIsStale: (apiKey) => !apiKey.last_used_at || clock.now().getTime() - Date.parse(apiKey.last_used_at) >= TOUCH_EVERY_MS,
    touch: (apiKey) => void touch.run(now(), apiKey.id),
  };
}
