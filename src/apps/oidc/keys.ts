/**
 * The provider's signing keys, one RS256 and one ES256 pair at a time, in DATA_DIR/oidc-keys.json (mode 0600).
 * Made on first start; `arbiter oidc rotate-keys` puts a new pair in front (the front key of each algorithm
 * signs). A replaced key stays in the JWKS for KEEP_RETIRED_SECONDS after it was replaced, so that every token it
 * signed can still be verified until it expires; it is dropped at the next rotation or start after that.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, calculateJwkThumbprint, type JWK } from 'jose';
import { z } from 'zod';
import { ArbiterError } from '../../errors.js';
import { writeWhole } from '../../write-whole.js';

export const KEYS_FILE = 'oidc-keys.json';
export const SIGNING_ALGS = ['RS256', 'ES256'] as const;
/** ID tokens live an hour (ID_TOKEN_TTL); a day leaves room for clocks and for id_token_hint at sign-out. */
export const KEEP_RETIRED_SECONDS = 24 * 3600;

const StoredKey = z.object({
  alg: z.enum(SIGNING_ALGS),
  kid: z.string().min(1),
  created_at: z.iso.datetime(),
  /** When a newer key of the same algorithm took over; absent for the current key. */
  retired_at: z.iso.datetime().optional(),
  jwk: z.looseObject({ kty: z.string(), d: z.string() }),
});
const KeysFile = z.object({ keys: z.array(StoredKey) });
export type StoredKey = z.infer<typeof StoredKey>;

export function keysPath(dataDir: string): string {
  return join(dataDir, KEYS_FILE);
}

async function newKey(alg: (typeof SIGNING_ALGS)[number], now: Date): Promise<StoredKey> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { alg, kid, created_at: now.toISOString(), jwk: { ...jwk, kid, alg, use: 'sig' } as StoredKey['jwk'] };
}

function readKeys(path: string): StoredKey[] | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let parsed;
  try {
    parsed = KeysFile.safeParse(JSON.parse(text));
  } catch {
    parsed = undefined;
  }
  if (!parsed?.success) {
    throw new ArbiterError('config_invalid', `${path} is not a valid key file. Restore it from a backup, or remove it to make new keys (tokens already issued then fail to verify).`);
  }
  return parsed.data.keys;
}

/** The key file, mode 0600; `exclusive` refuses to replace an existing file. */
function writeKeys(path: string, keys: StoredKey[], exclusive: boolean): boolean {
  return writeWhole(path, `${JSON.stringify({ keys }, null, 2)}\n`, { mode: 0o600, exclusive });
}

function withoutExpired(keys: StoredKey[], now: Date): StoredKey[] {
  return keys.filter((k) => !k.retired_at || Date.parse(k.retired_at) + KEEP_RETIRED_SECONDS * 1000 > now.getTime());
}

/** The keys to serve, newest first; made when there are none, and those retired long enough dropped. */
export async function loadSigningKeys(dataDir: string, now: Date): Promise<StoredKey[]> {
  const path = keysPath(dataDir);
  const existing = readKeys(path);
  if (!existing) {
    const keys = await Promise.all(SIGNING_ALGS.map((alg) => newKey(alg, now)));
    // Another process (the CLI) may have made them at the same moment: theirs are kept.
    if (writeKeys(path, keys, true)) return keys;
    return readKeys(path)!;
  }
  const kept = withoutExpired(existing, now);
  if (kept.length !== existing.length) writeKeys(path, kept, false);
  return kept;
}

export interface Rotation {
  added: StoredKey[];
  retired: StoredKey[];
  dropped: StoredKey[];
  path: string;
}

/** A new current pair in front; the previous current keys retire now; keys retired long enough go. */
export async function rotateSigningKeys(dataDir: string, now: Date): Promise<Rotation> {
  const path = keysPath(dataDir);
  const existing = readKeys(path) ?? [];
  const added = await Promise.all(SIGNING_ALGS.map((alg) => newKey(alg, now)));
  const retired: StoredKey[] = [];
  const older = existing.map((k) => {
    if (k.retired_at) return k;
    const r = { ...k, retired_at: now.toISOString() };
    retired.push(r);
    return r;
  });
  const kept = withoutExpired(older, now);
  const dropped = older.filter((k) => !kept.includes(k));
  writeKeys(path, [...added, ...kept], false);
  return { added, retired, dropped, path };
}

/** The private JWKS for oidc-provider: the first key of each algorithm signs, the others only verify. */
export function providerJwks(keys: StoredKey[]): { keys: JWK[] } {
  return { keys: keys.map((k) => k.jwk as JWK) };
}
