import type { Statement } from 'better-sqlite3';
import type { Db } from '../db/open.js';
import type { Clock } from '../clock.js';

/**
 * Who did something: an admin's Discord ID as `admin:<id>`, a user of the command line as `cli:<login>`, a program
 * holding an API key as `api:<key name>`, an app signing people in through Arbiter as `oidc:<client_id>`, or one of
 * the fixed actors.
 */
export type Actor = 'webhook' | 'system' | 'subscriber' | `admin:${string}` | `cli:${string}` | `api:${string}` | `oidc:${string}`;

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

type ListFilter = Parameters<AuditLog['list']>[0] & {};

/**
 * The statement for the filters that are set. One statement with `@x IS NULL OR x = @x` for every filter would keep
 * SQLite off each index: it would walk the whole log newest first, which at millions of rows takes seconds for a
 * person with a short history. Each index used ends in the id, so the rows come newest first without a sort.
 * Exported for the query-plan tests.
 */
export function auditListSql(filter: ListFilter): string {
  const where = [
    filter.discordId != null ? 'discord_id = @discordId' : null,
    filter.subscriptionId != null ? 'subscription_id = @subscriptionId' : null,
    filter.action != null ? 'action = @action' : null,
  ].filter((c) => c !== null);
  return `SELECT * FROM audit_logs${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT @limit`;
}

/** Append-only (the table refuses UPDATE and DELETE). Call inside the transaction of the change it describes. */
export function createAuditLog(db: Db, clock: Clock): AuditLog {
  const insert = db.prepare(`INSERT INTO audit_logs
    (at, actor, actor_name, action, email, discord_id, subscription_id, role_id, reason, details)
    VALUES (@at, @actor, @actorName, @action, @email, @discordId, @subscriptionId, @roleId, @reason, @details)`);
  const selects = new Map<string, Statement>();
  const select = (filter: ListFilter) => {
    const sql = auditListSql(filter);
    let statement = selects.get(sql);
    if (!statement) selects.set(sql, (statement = db.prepare(sql)));
    return statement;
  };
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
      return select(filter).all({
        discordId: filter.discordId ?? null,
        subscriptionId: filter.subscriptionId ?? null,
        action: filter.action ?? null,
        limit: filter.limit ?? 100,
      }) as AuditRow[];
    },
  };
}
