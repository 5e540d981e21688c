import type { Db } from '../db/open.js';
import type { Clock } from '../clock.js';

/**
 * Who did something: an admin's Discord ID as `admin:<id>`, a user of the command line as `cli:<login>`, an app
 * signing people in through Arbiter as `oidc:<client_id>`, or one of the fixed actors.
 */
export type Actor = 'webhook' | 'system' | 'subscriber' | `admin:${string}` | `cli:${string}` | `oidc:${string}`;

export interface AuditEntry {
  actor: Actor;
  /** The admin's Discord name at the time, next to the ID in `actor`. */
  actorName?: string | null;
  action: string;
  email?: string | null;
  discordId?: string | null;
  subscriptionId?: string | null;
  roleId?: string | null;
  reason?: string | null;
  details?: Record<string, unknown>;
}

export interface AuditRow {
  id: number;
  at: string;
  actor: string;
  actor_name: string | null;
  action: string;
  email: string | null;
  discord_id: string | null;
  subscription_id: string | null;
  role_id: string | null;
  reason: string | null;
  details: string | null;
}

export interface AuditLog {
  /** Returns the new row's id. */
  record(entry: AuditEntry): number;
  list(filter?: { discordId?: string; subscriptionId?: string; action?: string; limit?: number }): AuditRow[];
}

/** Append-only (the table refuses UPDATE and DELETE). Call inside the transaction of the change it describes. */
export function createAuditLog(db: Db, clock: Clock): AuditLog {
  const insert = db.prepare(`INSERT INTO audit_logs
    (at, actor, actor_name, action, email, discord_id, subscription_id, role_id, reason, details)
    VALUES (@at, @actor, @actorName, @action, @email, @discordId, @subscriptionId, @roleId, @reason, @details)`);
  const select = db.prepare(`SELECT * FROM audit_logs
    WHERE (@discordId IS NULL OR discord_id = @discordId)
      AND (@subscriptionId IS NULL OR subscription_id = @subscriptionId)
      AND (@action IS NULL OR action = @action)
    ORDER BY id DESC LIMIT @limit`);
  return {
    record(entry) {
      return Number(insert.run({
        at: clock.now().toISOString(),
        actor: entry.actor,
        actorName: entry.actorName ?? null,
        action: entry.action,
        email: entry.email ?? null,
        discordId: entry.discordId ?? null,
        subscriptionId: entry.subscriptionId ?? null,
        roleId: entry.roleId ?? null,
        reason: entry.reason ?? null,
        details: entry.details ? JSON.stringify(entry.details) : null,
      }).lastInsertRowid);
    },
    list(filter = {}) {
      return select.all({
        discordId: filter.discordId ?? null,
        subscriptionId: filter.subscriptionId ?? null,
        action: filter.action ?? null,
        limit: filter.limit ?? 100,
      }) as AuditRow[];
    },
  };
}
