/**
 * The audit log, filtered and paged newest first (keyset: `before` is the id of the last row shown), and exported as
 * CSV. Every filter combination is answered through an index that yields rows in id order, so a page costs the same
 * at a million rows as at a hundred.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { Statement } from 'better-sqlite3';
import { z } from 'zod';
import type { AuditRow } from '../audit/log.js';
import { SNOWFLAKE } from '../config.js';
import type { Db } from '../db/open.js';
import { readTime } from './input.js';

export const PAGE_SIZE = 50;
/** Rows read per statement in an export; between chunks the connection is free for everyone else. */
export const CSV_CHUNK = 500;
/** Bytes gathered before a write to the reader. */
const CSV_FLUSH = 16 * 1024;

export const FILTER_FIELDS = ['actor', 'action', 'email', 'discord', 'subscription', 'from', 'to'] as const;
export type FilterField = (typeof FILTER_FIELDS)[number];
/** The filters as typed (trimmed), for the form and for links to other pages. */
export type FilterValues = Partial<Record<FilterField, string>>;

export interface AuditFilter {
  /** `admin:<id>`, `api:<key name>`, `cli:<login>`, `oidc:<client_id>` or a fixed actor. */
  actor?: string;
  /** An admin's name at the time, compared case-insensitively. */
  actorName?: string;
  action?: string;
  /** Ends with a dot: every action under it. */
  actionPrefix?: string;
  email?: string;
  discordId?: string;
  subscriptionId?: string;
  /** ISO instants: from inclusive, to exclusive. */
  from?: string;
  to?: string;
}

export type AuditRequest =
  | { ok: true; filter: AuditFilter; values: FilterValues; before: number | null; format: 'html' | 'csv' }
  | { ok: false; message: string; values: FilterValues };

const FIXED_ACTORS = ['webhook', 'system', 'subscriber'];
const ACTION = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?$/;

const one = (field: string) => z.string({ error: `${field}: give one value` });

function trimmed(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const t = value.trim();
  return t === '' ? undefined : t;
}

/** A date or a time (UTC unless it says otherwise) and the span it names. */
function instant(field: 'from' | 'to') {
  return one(field).transform((value, ctx) => {
    const time = readTime(value);
    if (!('problem' in time)) return time;
    const message = {
      format: `${field}: give a date as YYYY-MM-DD or a time as YYYY-MM-DDTHH:MM (UTC)`,
      date: `${field}: ${value} is not a real date${value.length > 10 ? ' and time' : ''}`,
      zone: `${field}: ${value.slice(-6)} is not a time zone offset`,
    }[time.problem];
    ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  });
}

const Query = z
  .strictObject({
    actor: z.preprocess(trimmed, one('actor').max(100, 'actor: at most 100 characters').optional()),
    action: z.preprocess(
      trimmed,
      one('action')
        .max(100, 'action: at most 100 characters')
        .regex(ACTION, 'action: an action such as role.added, or the start of one ending with a dot, such as role.')
        .optional(),
    ),
    email: z.preprocess(
      trimmed,
      one('email').max(320, 'email: at most 320 characters').regex(/^[^\s@]+@[^\s@]+$/, 'email: give a whole email address, such as name@example.com').optional(),
    ),
    discord: z.preprocess(trimmed, one('discord').regex(SNOWFLAKE, 'discord: a Discord ID is 17 to 20 digits').optional()),
    subscription: z.preprocess(
      trimmed,
      one('subscription').max(200, 'subscription: at most 200 characters').regex(/^[\x21-\x7e]+$/, 'subscription: a subscription ID has no spaces').optional(),
    ),
    from: z.preprocess(trimmed, instant('from').optional()),
    to: z.preprocess(trimmed, instant('to').optional()),
    before: z.preprocess(
      trimmed,
      one('before')
        .regex(/^[1-9]\d{0,14}$/, 'before: the id of an audit entry, a positive whole number')
        .transform(Number)
        .optional(),
    ),
    format: z.preprocess(trimmed, z.enum(['html', 'csv'], { error: 'format: csv, or leave it out for the page' }).optional()),
  })
  .superRefine((q, ctx) => {
    if (q.from && q.to && q.from.start >= q.to.end) ctx.addIssue({ code: 'custom', message: 'from is after to: nothing could match' });
    if (q.actor && !FIXED_ACTORS.includes(q.actor.toLowerCase()) && /^(admin:)?\d+$/i.test(q.actor) && !SNOWFLAKE.test(q.actor.replace(/^admin:/i, ''))) {
      ctx.addIssue({ code: 'custom', path: ['actor'], message: "actor: an admin's Discord ID is 17 to 20 digits" });
    }
  });

function formValues(query: unknown): FilterValues {
  const values: FilterValues = {};
  if (query && typeof query === 'object') {
    for (const field of FILTER_FIELDS) {
      const value = trimmed((query as Record<string, unknown>)[field]);
      if (typeof value === 'string') values[field] = value;
    }
  }
  return values;
}

/** The query string of /admin/audit, checked: a filter, a cursor and a format, or the reason it is refused. */
export function parseAuditQuery(query: unknown): AuditRequest {
  const values = formValues(query);
  const parsed = Query.safeParse(query);
  if (!parsed.success) {
    const messages = parsed.error.issues.map((issue) =>
      issue.code === 'unrecognized_keys'
        ? `Unknown filter: ${issue.keys.join(', ')}. The filters are ${FILTER_FIELDS.join(', ')}.`
        : issue.message,
    );
    return { ok: false, message: [...new Set(messages)].join(' '), values };
  }
  const q = parsed.data;
  const filter: AuditFilter = {};
  if (q.actor) {
    const fixed = q.actor.toLowerCase();
    if (FIXED_ACTORS.includes(fixed)) filter.actor = fixed;
    else if (/^(admin:)?\d+$/i.test(q.actor)) filter.actor = `admin:${q.actor.replace(/^admin:/i, '')}`;
    // A program or a command-line user, by the name the audit log gives them: api:<key>, cli:<login>, oidc:<client>.
    else if (/^(api|cli|oidc):./i.test(q.actor)) filter.actor = q.actor.replace(/^\w+:/, (kind) => kind.toLowerCase());
    else filter.actorName = q.actor;
  }
  if (q.action) {
    if (q.action.endsWith('.')) filter.actionPrefix = q.action;
    else filter.action = q.action;
  }
  if (q.email) filter.email = q.email;
  if (q.discord) filter.discordId = q.discord;
  if (q.subscription) filter.subscriptionId = q.subscription;
  if (q.from) filter.from = new Date(q.from.start).toISOString();
  if (q.to) filter.to = new Date(q.to.end).toISOString();
  return { ok: true, filter, values, before: q.before ?? null, format: q.format ?? 'html' };
}

const statements = new WeakMap<Db, Map<string, Statement>>();

function prepared(db: Db, sql: string): Statement {
  let cache = statements.get(db);
  if (!cache) statements.set(db, (cache = new Map()));
  let stmt = cache.get(sql);
  if (!stmt) {
    if (cache.size > 500) cache.clear();
    cache.set(sql, (stmt = db.prepare(sql)));
  }
  return stmt;
}

/** The actions that start with a prefix, found by hopping through the action index (a few seeks, not a scan). */
function actionsUnder(db: Db, prefix: string): string[] {
  return prepared(
    db,
    `WITH RECURSIVE found(action) AS (
       SELECT (SELECT min(action) FROM audit_logs WHERE action >= @lo AND action < @hi)
       UNION ALL
       SELECT (SELECT min(action) FROM audit_logs WHERE action > found.action AND action < @hi) FROM found WHERE found.action IS NOT NULL
     ) SELECT action FROM found WHERE action IS NOT NULL`,
  )
    .pluck()
    .all({ lo: prefix, hi: prefixEnd(prefix) }) as string[];
}

/** The first string after every string starting with `prefix` (which ends with a dot). */
function prefixEnd(prefix: string): string {
  return `${prefix.slice(0, -1)}/`;
}

/**
 * Dates become a range of ids: the index on `at` finds the first and the last row of the span in two seeks, and
 * every other index ends in the id, so the range narrows whichever one serves the query (and keeps id order). This
 * relies on ids following time, as they do while the clock does not step back; the `at` conditions are still
 * applied to each row, so nothing outside the span is ever shown.
 */
function idSpan(db: Db, filter: AuditFilter): { lo: number | null; hi: number | null } | null {
  let lo: number | null = null;
  let hi: number | null = null;
  if (filter.from) {
    lo = prepared(db, 'SELECT id FROM audit_logs WHERE at >= ? ORDER BY at, id LIMIT 1').pluck().get(filter.from) as number | undefined ?? null;
    if (lo === null) return null;
  }
  if (filter.to) {
    hi = prepared(db, 'SELECT id FROM audit_logs WHERE at < ? ORDER BY at DESC, id DESC LIMIT 1').pluck().get(filter.to) as number | undefined ?? null;
    if (hi === null) return null;
  }
  return { lo, hi };
}

const MAX_ID = Number.MAX_SAFE_INTEGER;
/** More actions than this under one prefix: one range with a sort is cheaper than that many merged searches. */
const MAX_MERGED_ACTIONS = 40;

/**
 * The statement for one page or chunk: rows matching `filter` with id below `before`, newest first, at most `limit`.
 * Null when nothing can match. Exported for the query-plan tests.
 */
export function auditSelect(db: Db, filter: AuditFilter, before: number | null, limit: number): { sql: string; params: Record<string, string | number> } | null {
  const span = idSpan(db, filter);
  if (!span) return null;
  // An API key, a command-line user or an app acts as rarely as one admin does: as narrow a filter.
  const adminActor = /^(admin|api|cli|oidc):/.test(filter.actor ?? '');
  // Without statistics SQLite rates every equality index alike; the first filter here that is set serves the query
  // (those about one person first, a fixed actor such as webhook last), and a unary + keeps the others off their index.
  const equalities: [keyof AuditFilter, string, boolean][] = [
    ['discordId', 'discord_id = @discordId', true],
    ['subscriptionId', 'subscription_id = @subscriptionId', true],
    ['email', 'email = @email COLLATE NOCASE', true],
    ['actorName', 'actor_name = @actorName COLLATE NOCASE', true],
    ['actor', 'actor = @actor', adminActor],
    ['action', 'action = @action', true],
    ['actor', 'actor = @actor', !adminActor],
  ];
  const present = equalities.filter(([name, , applies]) => applies && filter[name] !== undefined);
  // One upper bound on the id: SQLite seeks on only one of two, and would walk down from the other.
  const upper = Math.min(before ?? MAX_ID, span.hi === null ? MAX_ID : span.hi + 1);
  const params: Record<string, string | number> = { before: upper, limit };
  const where = ['id < @before'];
  present.forEach(([name, condition], i) => {
    params[name] = filter[name]!;
    where.push(i === 0 ? condition : `+${condition}`);
  });
  const add = (name: string, value: string | number | null | undefined, condition: string) => {
    if (value === null || value === undefined) return;
    params[name] = value;
    where.push(condition);
  };
  add('lo', span.lo, 'id >= @lo');
  // Checked on each row, never through the `at` index, whose order is not the id order (it would need a sort).
  add('from', filter.from, '+at >= @from');
  add('to', filter.to, '+at < @to');

  const select = (conditions: string[]) => `SELECT * FROM audit_logs WHERE ${conditions.join(' AND ')}`;
  const page = ' ORDER BY id DESC LIMIT @limit';
  if (!filter.actionPrefix) return { sql: select(where) + page, params };

  // A fixed actor is no narrower than a prefix: the prefix leads then too.
  const led = present.length > 0 && !(present[0]![0] === 'actor' && !adminActor);
  const actions = led ? null : actionsUnder(db, filter.actionPrefix);
  if (actions && actions.length === 0) return null;
  if (!actions || actions.length > MAX_MERGED_ACTIONS) {
    params.prefixLo = filter.actionPrefix;
    params.prefixHi = prefixEnd(filter.actionPrefix);
    return { sql: select([...where, '+action >= @prefixLo', '+action < @prefixHi']) + page, params };
  }
  // One index search per action, merged in id order by SQLite (MERGE (UNION ALL), no sort). The other conditions
  // all carry a unary + here, so the action index leads each one.
  const residual = where.map((c) => (c === present[0]?.[1] ? `+${c}` : c));
  const legs = actions.map((action, i) => {
    params[`action${i}`] = action;
    return select([`action = @action${i}`, ...residual]);
  });
  return { sql: legs.join(' UNION ALL ') + page, params };
}

/** One page, newest first; `older` is the cursor of the next page, null on the last. */
export function readAuditPage(deps: { db: Db }, filter: AuditFilter, before: number | null): { rows: AuditRow[]; older: number | null } {
  const select = auditSelect(deps.db, filter, before, PAGE_SIZE + 1);
  if (!select) return { rows: [], older: null };
  const rows = prepared(deps.db, select.sql).all(select.params) as AuditRow[];
  if (rows.length <= PAGE_SIZE) return { rows, older: null };
  rows.length = PAGE_SIZE;
  return { rows, older: rows[PAGE_SIZE - 1]!.id };
}

export const CSV_COLUMNS = ['id', 'at', 'actor', 'actor_name', 'action', 'email', 'discord_id', 'subscription_id', 'role_id', 'role_name', 'reason', 'details'] as const;

/**
 * One CSV field (RFC 4180). A spreadsheet runs a cell starting with = + - @ (or a tab or carriage return before
 * one) as a formula: such text gets a leading apostrophe, which shows it as text.
 */
export function csvCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  let cell = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(cell)) cell = `'${cell}`;
  return /[",\r\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell;
}

export function csvLine(cells: (string | number | null | undefined)[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

function csvRow(row: AuditRow, roleName?: (id: string) => string | undefined): string {
  return csvLine([
    row.id, row.at, row.actor, row.actor_name, row.action, row.email, row.discord_id, row.subscription_id, row.role_id,
    row.role_id ? (roleName?.(row.role_id) ?? null) : null, row.reason, row.details,
  ]);
}

export function csvFilename(now: Date): string {
  return `arbiter-audit-${now.toISOString().slice(0, 10)}.csv`;
}

/**
 * Writes every row `filter` selects to `out` as CSV, newest first, and leaves `out` open. Rows are read in keyset
 * chunks, and no statement stays open across an await: while better-sqlite3 iterates, its connection refuses every
 * write ("This database connection is busy"), and this is the connection webhooks commit on. A chunk is cut short
 * when `out` is full, and the next one starts after the last row written once it has drained. Stops when `signal`
 * aborts (the reader went away); `complete` says whether every row was written.
 */
export async function writeAuditCsv(
  deps: { db: Db; roleName?: (id: string) => string | undefined },
  filter: AuditFilter,
  out: Writable,
  signal: AbortSignal,
): Promise<{ rows: number; complete: boolean }> {
  let rows = 0;
  let before: number | null = null;
  let full = !out.write(csvLine([...CSV_COLUMNS]));
  for (;;) {
    try {
      if (full) await once(out, 'drain', { signal });
      // Drain may come on the next tick when the socket took everything at once: only setImmediate lets the
      // event loop take other requests (and notice a closed connection) between chunks.
      await new Promise((resolve) => setImmediate(resolve));
    } catch (err) {
      if (signal.aborted) return { rows, complete: false };
      throw err;
    }
    if (signal.aborted || out.destroyed) return { rows, complete: false };
    const select = auditSelect(deps.db, filter, before, CSV_CHUNK);
    if (!select) return { rows, complete: true };
    let read = 0;
    let cut = false;
    let buffer = '';
    for (const row of prepared(deps.db, select.sql).iterate(select.params) as IterableIterator<AuditRow>) {
      read++;
      rows++;
      before = row.id;
      buffer += csvRow(row, deps.roleName);
      if (buffer.length >= CSV_FLUSH) {
        full = !out.write(buffer);
        buffer = '';
        if (full) {
          cut = true;
          break; // closes the statement before waiting
        }
      }
    }
    if (buffer) full = !out.write(buffer);
    if (!cut && read < CSV_CHUNK) return { rows, complete: true };
  }
}
