/**
 * Link tokens: 32 random bytes, base64url in the emailed link, only their SHA-256 stored. Single-use; a new token
 * for a subscription revokes its older unused ones, and so does the subscription stopping being active; the
 * reason is kept so that the link can say which.
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Db } from '../db/open.js';
import { sha256Hex } from '../secure-compare.js';

/** `revoked`: replaced by a newer link; `inactive`: revoked because its subscription stopped being active. */
export type TokenStatus = 'valid' | 'expired' | 'used' | 'revoked' | 'inactive' | 'unknown';

export type RevokeReason = 'replaced' | 'inactive';

export interface TokenRow {
  id: number;
  token_hash: string;
  subscription_id: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
  used_by: string | null;
  revoked_at: string | null;
  /** Null on tokens revoked before reasons were kept (they were all replaced). */
  revoked_reason: RevokeReason | null;
}

export interface TokenCheck {
  status: TokenStatus;
  row?: TokenRow;
}

const TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;

export const hashToken = sha256Hex;

export interface LinkTokens {
  issue(subscriptionId: string): { token: string; expiresAt: Date };
  check(token: string): TokenCheck;
  /** For a token known only by its hash: the session keeps the hash, never the token. */
  checkHash(tokenHash: string): TokenCheck;
  /** Spends a token that a check found valid; call in the same transaction as the check. */
  markUsed(row: TokenRow, discordId: string): void;
  /** Check and spend in one transaction; returns the check made before spending. */
  spend(token: string, discordId: string): TokenCheck;
  /** The newest token of the subscription that still works, if any. */
  newestValid(subscriptionId: string): TokenRow | undefined;
  /** The newest token of the subscription, whatever its state. */
  newest(subscriptionId: string): TokenRow | undefined;
  /** How many tokens were issued after `since` for the subscriptions that have this email now. */
  issuedToEmailSince(email: string, since: Date): number;
  /** Revokes the subscription's unused tokens; ones already revoked keep their first reason. */
  revokeAll(subscriptionId: string, reason: RevokeReason): void;
}

export function createLinkTokens(db: Db, clock: Clock, ttlHours: number): LinkTokens {
  const insert = db.prepare(`INSERT INTO link_tokens (token_hash, subscription_id, created_at, expires_at) VALUES (?, ?, ?, ?)`);
  const revoke = db.prepare(`UPDATE link_tokens SET revoked_at = ?, revoked_reason = ? WHERE subscription_id = ? AND used_at IS NULL AND revoked_at IS NULL`);
  const byHash = db.prepare('SELECT * FROM link_tokens WHERE token_hash = ?');
  const newestValid = db.prepare(`SELECT * FROM link_tokens WHERE subscription_id = ? AND used_at IS NULL AND revoked_at IS NULL
    AND expires_at > ? ORDER BY id DESC LIMIT 1`);
  const newest = db.prepare(`SELECT * FROM link_tokens WHERE subscription_id = ? ORDER BY id DESC LIMIT 1`);
  const issuedToEmail = db.prepare(`SELECT COUNT(*) FROM link_tokens WHERE created_at > ?
    AND subscription_id IN (SELECT subscription_id FROM subscriptions WHERE email = ? COLLATE NOCASE)`).pluck();
  const use = db.prepare('UPDATE link_tokens SET used_at = ?, used_by = ? WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL');

  const check = (token: string): TokenCheck => (TOKEN_FORMAT.test(token) ? checkHash(hashToken(token)) : { status: 'unknown' });
  const checkHash = (tokenHash: string): TokenCheck => {
    const row = byHash.get(tokenHash) as TokenRow | undefined;
    if (!row) return { status: 'unknown' };
    if (row.used_at) return { status: 'used', row };
    if (row.revoked_at) return { status: row.revoked_reason === 'inactive' ? 'inactive' : 'revoked', row };
    if (row.expires_at <= clock.now().toISOString()) return { status: 'expired', row };
    return { status: 'valid', row };
  };

  const markUsed = (row: TokenRow, discordId: string) => void use.run(clock.now().toISOString(), discordId, row.id);

  return {
    issue: db.transaction((subscriptionId: string) => {
      const now = clock.now();
      const token = randomBytes(32).toString('base64url');
      const expiresAt = new Date(now.getTime() + ttlHours * 3_600_000);
      revoke.run(now.toISOString(), 'replaced', subscriptionId);
      insert.run(hashToken(token), subscriptionId, now.toISOString(), expiresAt.toISOString());
      return { token, expiresAt };
    }),
    check,
    checkHash,
    markUsed,
    spend: db.transaction((token: string, discordId: string): TokenCheck => {
      const result = check(token);
      if (result.status === 'valid') markUsed(result.row!, discordId);
      return result;
    }),
    newestValid: (subscriptionId) => newestValid.get(subscriptionId, clock.now().toISOString()) as TokenRow | undefined,
    newest: (subscriptionId) => newest.get(subscriptionId) as TokenRow | undefined,
    issuedToEmailSince: (email, since) => issuedToEmail.get(since.toISOString(), email) as number,
    revokeAll: (subscriptionId, reason) => void revoke.run(clock.now().toISOString(), reason, subscriptionId),
  };
}
