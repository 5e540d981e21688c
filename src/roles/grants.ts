import type { Clock } from '../clock.js';
import type { Db } from '../db/open.js';

export interface RoleGrant {
  id: number;
  discord_id: string;
  kind: 'grant' | 'block';
  /** Null for a block of every managed role. */
  role_id: string | null;
  reason: string;
  /** The actor, as in audit_logs (`admin:<id>`). */
  created_by: string;
  created_by_name: string | null;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  revoked_by: string | null;
  revoked_by_name: string | null;
  revoke_reason: string | null;
}

export type NewGrant = Pick<RoleGrant, 'discord_id' | 'kind' | 'role_id' | 'reason' | 'created_by' | 'created_by_name' | 'expires_at'>;

export interface GrantStore {
  /** Grants and blocks in force now for this user. */
  active(discordId: string): RoleGrant[];
  /** Every grant and block this user ever had, newest first. */
  history(discordId: string): RoleGrant[];
  get(id: number): RoleGrant | undefined;
  /** Everyone with a grant or block in force. */
  subjects(): string[];
  add(grant: NewGrant): number;
  /** Ends a grant or block in force; false when it had already ended. */
  revoke(id: number, by: { actor: string; name: string | null }, reason: string): boolean;
}

/** Every grant and block of one user, newest first. Exported for the query-plan tests. */
export const GRANT_HISTORY_SQL = 'SELECT * FROM role_grants WHERE discord_id = ? ORDER BY id DESC';

export function createGrantStore(db: Db, clock: Clock): GrantStore {
  const inForce = `revoked_at IS NULL AND (expires_at IS NULL OR expires_at > @now)`;
  const active = db.prepare(`SELECT * FROM role_grants WHERE discord_id = @discordId AND ${inForce} ORDER BY id`);
  const history = db.prepare(GRANT_HISTORY_SQL);
  const get = db.prepare(`SELECT * FROM role_grants WHERE id = ?`);
  const subjects = db.prepare(`SELECT DISTINCT discord_id FROM role_grants WHERE ${inForce}`).pluck();
  const add = db.prepare(`INSERT INTO role_grants (discord_id, kind, role_id, reason, created_by, created_by_name, created_at, expires_at)
    VALUES (@discord_id, @kind, @role_id, @reason, @created_by, @created_by_name, @now, @expires_at)`);
  const revoke = db.prepare(`UPDATE role_grants SET revoked_at = @now, revoked_by = @actor, revoked_by_name = @name, revoke_reason = @reason
    WHERE id = @id AND ${inForce}`);
  const now = () => clock.now().toISOString();
  return {
    active: (discordId) => active.all({ discordId, now: now() }) as RoleGrant[],
    history: (discordId) => history.all(discordId) as RoleGrant[],
    get: (id) => get.get(id) as RoleGrant | undefined,
    subjects: () => subjects.all({ now: now() }) as string[],
    add: (grant) => Number(add.run({ ...grant, now: now() }).lastInsertRowid),
    revoke: (id, by, reason) => revoke.run({ id, actor: by.actor, name: by.name, reason, now: now() }).changes > 0,
  };
}
