import type { Clock } from '../clock.js';
import type { Db } from '../db/open.js';

export interface RoleGrant {
  id: number;
  discord_id: string;
  kind: 'grant' | 'block';
  role_id: string | null;
  reason: string;
  created_by: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  revoked_by: string | null;
}

export interface GrantStore {
  /** Grants and blocks in force now for this user. */
  active(discordId: string): RoleGrant[];
  /** Everyone with a grant or block in force. */
  subjects(): string[];
  add(grant: Pick<RoleGrant, 'discord_id' | 'kind' | 'role_id' | 'reason' | 'created_by' | 'expires_at'>): number;
  revoke(id: number, by: string): boolean;
}

export function createGrantStore(db: Db, clock: Clock): GrantStore {
  const inForce = `revoked_at IS NULL AND (expires_at IS NULL OR expires_at > @now)`;
  const active = db.prepare(`SELECT * FROM role_grants WHERE discord_id = @discordId AND ${inForce} ORDER BY id`);
  const subjects = db.prepare(`SELECT DISTINCT discord_id FROM role_grants WHERE ${inForce}`).pluck();
  const add = db.prepare(`INSERT INTO role_grants (discord_id, kind, role_id, reason, created_by, created_at, expires_at)
    VALUES (@discord_id, @kind, @role_id, @reason, @created_by, @now, @expires_at)`);
  const revoke = db.prepare(`UPDATE role_grants SET revoked_at = @now, revoked_by = @by WHERE id = @id AND revoked_at IS NULL`);
  const now = () => clock.now().toISOString();
  return {
    active: (discordId) => active.all({ discordId, now: now() }) as RoleGrant[],
    subjects: () => subjects.all({ now: now() }) as string[],
    add: (grant) => Number(add.run({ ...grant, now: now() }).lastInsertRowid),
    revoke: (id, by) => revoke.run({ id, by, now: now() }).changes > 0,
  };
}
