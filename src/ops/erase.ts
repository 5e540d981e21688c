/**
 * Erasing a subscriber: what Arbiter did outside (managed roles on Discord, the Discord ID on their Ghost member) is
 * undone first; only when that worked (or the sysadmin accepts leaving it, localOnly) is their data here removed or
 * replaced by a stable hash of the email: subscriptions, link tokens, webhook payloads, jobs, grants, audit rows,
 * sessions and outbox mail. Then both databases are rewritten (VACUUM) and their write-ahead logs emptied, so that no
 * file in DATA_DIR keeps an old copy. Nothing here prints: the command module words the result.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ACCOUNT_MODEL } from '../apps/oidc/constants.js';
import type { Actor } from '../audit/log.js';
import { managedRoles } from '../config.js';
import type { Db } from '../db/open.js';
import { ArbiterError, isArbiterError } from '../errors.js';
import { takeDiscordIdOff } from '../ghost/sync.js';
import { desiredRoles, planRoles } from '../roles/plan.js';
import type { Services } from '../services.js';
import { fold, type Subscription } from '../subscriptions/store.js';
import { securely } from './prune.js';

export type EraseServices = Pick<Services, 'db' | 'config' | 'clock' | 'subscriptions' | 'discord' | 'ghost' | 'audit'>;

export const ERASED_PREFIX = 'erased:';
const DISCORD_REASON = 'Arbiter: subscriber erased';
const EmailArgument = z.email().max(254);

/** What stands in for an erased email: the same for every spelling of it, and nothing to read it back from. */
export function erasedHash(email: string): string {
  return `${ERASED_PREFIX}${createHash('sha256').update(email.trim().toLowerCase()).digest('hex').slice(0, 16)}`;
}

/** The email as given, or a refusal that says what is wrong with it. */
export function parseEmail(value: string): string {
  const email = value.trim();
  if (!EmailArgument.safeParse(email).success) throw new ArbiterError('bad_request', `"${value}" is not an email address. Nothing was changed.`);
  return email;
}

/** Who is erased: found by their email (any case), or by the hash a run before left. */
export interface Subject {
  email: string;
  hash: string;
  subscriptions: Subscription[];
  /** The email given, and every address their subscriptions had (the audit log keeps earlier ones), case-folded. */
  emails: string[];
  names: string[];
  discordIds: string[];
}

export interface ErasureCounts {
  subscriptions: number;
  linkTokens: number;
  deliveries: number;
  jobs: number;
  grants: number;
  auditRows: number;
  sessions: number;
  outboxFiles: number;
  /** What the OpenID Connect provider keeps of them: their account, sessions, grants, codes and tokens. */
  oidcRecords: number;
}

export interface ErasePlan {
  subject: Subject;
  counts: ErasureCounts;
  /** Whether Ghost is configured: the Discord ID comes off the members with these emails. */
  ghost: boolean;
  /** Erased before, and nothing new names them. */
  alreadyErased: boolean;
}

export interface DiscordOutcome {
  userId: string;
  /** Managed roles taken off, by name when the server told it. */
  removed: string[];
  inServer: boolean;
}

export interface GhostOutcome {
  email: string;
  discordId: string;
  member: string;
}

export interface ErasureReport {
  plan: ErasePlan;
  counts: ErasureCounts;
  discord: DiscordOutcome[];
  ghost: GhostOutcome[];
  /** What could not be undone on Discord or Ghost (localOnly), in words. */
  left: string[];
  /** Anything the sysadmin should know that did not stop the erasure. */
  warnings: string[];
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Finds and replaces the subject's emails (any case) and, where asked, their names (as whole words). */
function matcher(subject: Subject) {
  const emails = subject.emails.map((e) => new RegExp(escapeRegExp(e), 'giu'));
  const names = subject.names.map((n) => new RegExp(`(?<![\\p{L}\\p{N}])${escapeRegExp(n)}(?![\\p{L}\\p{N}])`, 'giu'));
  const test = (patterns: RegExp[], text: string) => patterns.some((p) => ((p.lastIndex = 0), p.test(text)));
  const mentions = (text: string | null, withNames: boolean) => text !== null && (test(emails, text) || (withNames && test(names, text)));
  const replaceIn = (text: string, withNames: boolean) =>
    [...emails, ...(withNames ? names : [])].reduce((t, p) => t.replace(p, subject.hash), text);
  /** The text without the subject's emails (and names); JSON stays JSON. */
  const scrub = (text: string | null, withNames: boolean): string | null => {
    if (text === null || !mentions(text, withNames)) return text;
    try {
      return JSON.stringify(mapStrings(JSON.parse(text), (s) => replaceIn(s, withNames)));
    } catch {
      return replaceIn(text, withNames);
    }
  };
  return { mentions, scrub };
}

function mapStrings(value: unknown, map: (s: string) => string): unknown {
  if (typeof value === 'string') return map(value);
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, map));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, map)]));
  return value;
}

const unique = <T>(items: T[]) => [...new Set(items)];

export function findSubject(services: Pick<EraseServices, 'db' | 'subscriptions'>, email: string): Subject {
  const hash = erasedHash(email);
  const byId = new Map<string, Subscription>();
  for (const s of [...services.subscriptions.byEmail(email), ...services.subscriptions.byEmail(hash)]) byId.set(s.subscription_id, s);
  const subscriptions = [...byId.values()];
  const earlier = services.db
    .prepare(`SELECT DISTINCT email FROM audit_logs WHERE subscription_id IN (SELECT value FROM json_each(?)) AND email IS NOT NULL`)
    .pluck()
    .all(JSON.stringify([...byId.keys()])) as string[];
  const emails = unique([email, ...subscriptions.map((s) => s.email), ...earlier].map((e) => fold(e.trim()))).filter((e) => e.length > 0 && !e.startsWith(ERASED_PREFIX));
  // Names they were known by before: the deliveries about them that still have their payloads.
  const payloads = services.db
    .prepare(`SELECT payload FROM webhook_events WHERE pruned_at IS NULL
      AND (subscription_id IN (SELECT value FROM json_each(?)) OR instr(arbiter_fold(payload), ?) > 0)`)
    .pluck()
    .all(JSON.stringify([...byId.keys()]), fold(email)) as string[];
  const earlierNames = payloads.flatMap((p) => {
    const name = (safeJson(p) as { customer_name?: unknown } | null)?.customer_name;
    return typeof name === 'string' ? [name] : [];
  });
  return {
    email,
    hash,
    subscriptions,
    emails,
    // A one-letter name would match too much of other words.
    names: unique([...subscriptions.map((s) => s.name), ...earlierNames].map((n) => n.trim()).filter((n) => [...n].length >= 2)),
    discordIds: unique(subscriptions.flatMap((s) => (s.discord_id ? [s.discord_id] : []))),
  };
}

interface DbFinds {
  subscriptions: string[];
  tokens: { id: number; token_hash: string }[];
  deliveries: number[];
  jobs: number[];
  grants: { id: number; end: boolean; reason: string; revoke_reason: string | null }[];
  audit: { id: number; email: string | null; reason: string | null; details: string | null }[];
  oidc: { model: string; id: string }[];
}

/**
 * Everything in arbiter.db that names the subject, with the audit rows and grants as they will read after. Rows tied
 * to them (their subscriptions, their Discord IDs, their email) lose their emails and names; any other row that
 * quotes one of their emails loses that (a name alone is too common to look for in other people's rows).
 */
function findInDb(db: Db, subject: Subject, now: string): DbFinds {
  const { mentions, scrub } = matcher(subject);
  const ids = subject.subscriptions.map((s) => s.subscription_id);
  const idSet = new Set(ids);
  const discordSet = new Set(subject.discordIds);
  const emailSet = new Set(subject.emails);
  const params = { ids: JSON.stringify(ids), discordIds: JSON.stringify(subject.discordIds) };
  // arbiter_fold is registered on this connection by the subscription store.
  const quotes = (column: string) => subject.emails.map((_, i) => `instr(arbiter_fold(${column}), @e${i}) > 0`).join(' OR ') || '0';
  const emailParams = Object.fromEntries(subject.emails.map((e, i) => [`e${i}`, e]));

  const subscriptions = (db
    .prepare(`SELECT * FROM subscriptions WHERE subscription_id IN (SELECT value FROM json_each(@ids))`)
    .all(params) as Subscription[])
    .filter((s) => s.email !== subject.hash || s.name !== '' || s.discord_id !== null)
    .map((s) => s.subscription_id);
  const tokens = db.prepare(`SELECT id, token_hash FROM link_tokens WHERE subscription_id IN (SELECT value FROM json_each(@ids))`).all(params) as DbFinds['tokens'];
  const deliveries = db
    .prepare(`SELECT id FROM webhook_events WHERE (payload <> '{}' OR errors IS NOT NULL)
      AND (subscription_id IN (SELECT value FROM json_each(@ids)) OR ${quotes('payload')} OR ${quotes('errors')})`)
    .pluck()
    .all({ ...params, ...emailParams }) as number[];

  const jobs = (db.prepare(`SELECT id, key, payload, last_error FROM jobs`).all() as { id: number; key: string; payload: string; last_error: string | null }[])
    .filter((j) => {
      if (idSet.has(j.key) || discordSet.has(j.key) || mentions(j.payload, false) || mentions(j.last_error, false)) return true;
      const values: unknown[] = [];
      mapStrings(safeJson(j.payload), (s) => (values.push(s), s));
      return values.some((v) => idSet.has(v as string) || discordSet.has(v as string));
    })
    .map((j) => j.id);

  const grants = (db
    .prepare(`SELECT id, discord_id, reason, revoke_reason, revoked_at, expires_at FROM role_grants
      WHERE discord_id IN (SELECT value FROM json_each(@discordIds)) OR ${quotes('reason')} OR ${quotes('revoke_reason')}`)
    .all({ ...params, ...emailParams }) as { id: number; discord_id: string; reason: string; revoke_reason: string | null; revoked_at: string | null; expires_at: string | null }[])
    .map((g) => {
      const theirs = discordSet.has(g.discord_id);
      const inForce = g.revoked_at === null && (g.expires_at === null || g.expires_at > now);
      return { id: g.id, end: theirs && inForce, reason: scrub(g.reason, theirs)!, revoke_reason: scrub(g.revoke_reason, theirs), was: g };
    })
    .filter((g) => g.end || g.reason !== g.was.reason || g.revoke_reason !== g.was.revoke_reason)
    .map(({ was: _was, ...g }) => g);

  const audit = (db
    .prepare(`SELECT id, email, subscription_id, discord_id, reason, details FROM audit_logs
      WHERE subscription_id IN (SELECT value FROM json_each(@ids)) OR discord_id IN (SELECT value FROM json_each(@discordIds))
        OR arbiter_fold(email) IN (SELECT value FROM json_each(@emails))
        OR ${quotes('reason')} OR ${quotes('details')}`)
    .all({ ...params, ...emailParams, emails: JSON.stringify(subject.emails) }) as (DbFinds['audit'][number] & { subscription_id: string | null; discord_id: string | null })[])
    .map((row) => {
      const ownEmail = row.email !== null && emailSet.has(fold(row.email));
      const theirs = ownEmail || idSet.has(row.subscription_id ?? '') || discordSet.has(row.discord_id ?? '');
      return { id: row.id, email: ownEmail ? subject.hash : row.email, reason: scrub(row.reason, theirs), details: scrub(row.details, theirs), was: row };
    })
    .filter((r) => r.email !== r.was.email || r.reason !== r.was.reason || r.details !== r.was.details)
    .map(({ was: _was, ...r }) => r);

  const oidc = db
    .prepare(`SELECT model, id FROM oidc_store WHERE (model = '${ACCOUNT_MODEL}' AND id IN (SELECT value FROM json_each(@discordIds)))
      OR json_extract(payload, '$.accountId') IN (SELECT value FROM json_each(@discordIds))
      OR json_extract(payload, '$.result.login.accountId') IN (SELECT value FROM json_each(@discordIds))`)
    .all(params) as DbFinds['oidc'];

  return { subscriptions, tokens, deliveries, jobs, grants, audit, oidc };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * Sessions (sessions.db, kept by express-session) that hold the subject's subscription, pending link, email or Discord
 * ID. Not their name: sessions never hold a subscriber's name, and an admin's session holds the admin's own.
 */
function sessionMatcher(subject: Subject, tokenHashes: string[]) {
  const { mentions } = matcher(subject);
  const quoted = subject.subscriptions.map((s) => JSON.stringify(s.subscription_id));
  const discord = subject.discordIds.map((id) => new RegExp(`(?<!\\d)${id}(?!\\d)`));
  return (sess: string) =>
    mentions(sess, false) || quoted.some((q) => sess.includes(q)) || tokenHashes.some((h) => sess.includes(h)) || discord.some((r) => r.test(sess));
}

function openSessions(dataDir: string): Db | undefined {
  const file = join(dataDir, 'sessions.db');
  if (!existsSync(file)) return undefined;
  const db = new Database(file, { fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  const hasTable = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sessions'`).get();
  if (!hasTable) {
    db.close();
    return undefined;
  }
  return db;
}

function findSessions(dataDir: string, matches: (sess: string) => boolean): string[] {
  const db = openSessions(dataDir);
  if (!db) return [];
  try {
    return (db.prepare('SELECT sid, sess FROM sessions').all() as { sid: string; sess: string }[]).filter((r) => matches(String(r.sess))).map((r) => r.sid);
  } finally {
    db.close();
  }
}

/** Files in the development outbox (DATA_DIR/outbox) addressed to one of the subject's emails. */
function findOutbox(dataDir: string, subject: Subject): string[] {
  const dir = join(dataDir, 'outbox');
  if (!existsSync(dir)) return [];
  const { mentions } = matcher(subject);
  const walk = (path: string): string[] =>
    readdirSync(path).flatMap((name) => {
      const file = join(path, name);
      return statSync(file).isDirectory() ? walk(file) : [file];
    });
  return walk(dir).filter((file) => mentions(file.slice(dir.length), false) || mentions(readFileSync(file, 'utf8'), false));
}

function countsOf(found: DbFinds, sessions: number, outboxFiles: number): ErasureCounts {
  return {
    subscriptions: found.subscriptions.length,
    linkTokens: found.tokens.length,
    deliveries: found.deliveries.length,
    jobs: found.jobs.length,
    grants: found.grants.length,
    auditRows: found.audit.length,
    sessions,
    outboxFiles,
    oidcRecords: found.oidc.length,
  };
}

export function planErasure(services: EraseServices, email: string): ErasePlan {
  const subject = findSubject(services, parseEmail(email));
  const found = findInDb(services.db, subject, services.clock.now().toISOString());
  const counts = countsOf(
    found,
    findSessions(services.config.dataDir, sessionMatcher(subject, found.tokens.map((t) => t.token_hash))).length,
    findOutbox(services.config.dataDir, subject).length,
  );
  const anything = Object.values(counts).some((n) => n > 0);
  if (!anything && subject.subscriptions.length === 0) {
    throw new ArbiterError(
      'not_found',
      `Nothing is stored about ${subject.email}: no subscription, webhook delivery, job, grant, audit entry, session or outbox mail names it. Nothing was changed.`,
      { status: 404 },
    );
  }
  return { subject, counts, ghost: services.ghost !== null, alreadyErased: !anything };
}

/** Trouble with Discord or Ghost, in words. */
class Outside extends Error {
  constructor(
    readonly service: 'Discord' | 'Ghost',
    message: string,
  ) {
    super(message);
  }
}

const why = (err: unknown) => (isArbiterError(err) ? err.message : err instanceof Error ? err.message : String(err));

async function outside<T>(service: 'Discord' | 'Ghost', call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw new Outside(service, why(err));
  }
}

interface OutsideRead {
  /** The members as Discord has them (roles null: not in the server); null when Discord was not read. */
  members: { userId: string; roles: string[] | null }[] | null;
  /** Whether Ghost was read and is to be written. */
  ghost: boolean;
  roleNames: Map<string, string>;
  problems: Outside[];
}

interface OutsideDone {
  discord: DiscordOutcome[];
  ghost: GhostOutcome[];
}

/**
 * Reads what the subject has on Discord and whether Ghost answers, before anything is written there: a service that
 * cannot be reached stops the erasure while nothing has changed anywhere.
 */
async function readOutside(services: EraseServices, subject: Subject): Promise<OutsideRead> {
  const read: OutsideRead = { members: null, ghost: false, roleNames: new Map(), problems: [] };
  if (subject.discordIds.length === 0) return read;
  const discord = services.discord;
  try {
    if (!discord) throw new Outside('Discord', 'Discord is not configured (the DISCORD_* settings)');
    read.roleNames = new Map((await outside('Discord', () => discord.api.guildRoles())).map((r) => [r.id, r.name]));
    const members: NonNullable<OutsideRead['members']> = [];
    for (const userId of subject.discordIds) {
      const member = await outside('Discord', () => discord.api.getMember(userId));
      members.push({ userId, roles: member?.roles ?? null });
    }
    read.members = members;
  } catch (err) {
    if (!(err instanceof Outside)) throw err;
    read.problems.push(err);
  }
  const ghost = services.ghost;
  if (ghost) {
    try {
      for (const email of subject.emails) await outside('Ghost', () => ghost.findMemberByEmail(email));
      read.ghost = true;
    } catch (err) {
      if (!(err instanceof Outside)) throw err;
      read.problems.push(err);
    }
  }
  return read;
}

/**
 * Takes off the managed roles (those another subscription of the same account still gives stay) and the Discord ID
 * on the Ghost members with the subject's emails. A failure stops that service's writes and is returned with what was
 * done before it.
 */
async function writeOutside(services: EraseServices, subject: Subject, read: OutsideRead): Promise<{ done: OutsideDone; problems: Outside[] }> {
  const done: OutsideDone = { discord: [], ghost: [] };
  const problems: Outside[] = [];
  const theirs = new Set(subject.subscriptions.map((s) => s.subscription_id));
  const managed = managedRoles(services.config);
  const discord = services.discord;
  if (read.members && discord) {
    try {
      for (const { userId, roles } of read.members) {
        const outcome: DiscordOutcome = { userId, removed: [], inServer: roles !== null };
        done.discord.push(outcome);
        if (roles === null) continue;
        const others = services.subscriptions.byDiscordId(userId).filter((s) => !theirs.has(s.subscription_id));
        for (const roleId of planRoles(desiredRoles(others, [], services.config.tiers), new Set(roles), managed).remove) {
          try {
            await discord.api.removeRole(userId, roleId, DISCORD_REASON);
          } catch (err) {
            // They left the server meanwhile: nothing of ours is on them any more.
            if (isArbiterError(err) && err.code === 'discord_unknown_member') {
              outcome.inServer = false;
              break;
            }
            throw new Outside('Discord', why(err));
          }
          outcome.removed.push(read.roleNames.get(roleId) ?? roleId);
        }
      }
    } catch (err) {
      if (!(err instanceof Outside)) throw err;
      problems.push(err);
    }
  }
  if (read.ghost && services.ghost && services.config.ghost) {
    const deps = { config: services.config.ghost, ghost: services.ghost };
    try {
      for (const email of subject.emails) {
        for (const discordId of subject.discordIds) {
          const member = await outside('Ghost', () => takeDiscordIdOff(deps, email, discordId));
          if (member) done.ghost.push({ email, discordId, member });
        }
      }
    } catch (err) {
      if (!(err instanceof Outside)) throw err;
      problems.push(err);
    }
  }
  return { done, problems };
}

function leftWords(subject: Subject, problems: Outside[], tiers: Record<string, string[]>): string[] {
  const left: string[] = [];
  for (const problem of problems) {
    if (problem.service === 'Discord') {
      const roles = [...desiredRoles(subject.subscriptions, [], tiers)];
      for (const userId of subject.discordIds) {
        left.push(`Left on Discord: user ${userId} may still hold managed roles${roles.length > 0 ? ` (${roles.join(', ')})` : ''}; take them off by hand (${problem.message}).`);
      }
    } else {
      for (const email of subject.emails) {
        left.push(`Left on Ghost: the member with ${email} may still carry Discord ID ${subject.discordIds.join(', ')}; take it off by hand (${problem.message}).`);
      }
    }
  }
  return left;
}

function doneWords(done: OutsideDone): string {
  const parts = [
    ...done.discord.filter((d) => d.removed.length > 0).map((d) => `roles ${d.removed.join(', ')} were taken off Discord user ${d.userId}`),
    ...done.ghost.map((g) => `Discord ID ${g.discordId} was taken off the Ghost member with ${g.email}`),
  ];
  return parts.length > 0 ? ` Already done: ${parts.join('; ')}.` : '';
}

/** Overwrites a file with zeros before removing it, so that its blocks do not keep the mail where the file system writes in place. */
function shred(file: string): void {
  const fd = openSync(file, 'r+');
  try {
    const size = fstatSync(fd).size;
    const zeros = Buffer.alloc(Math.min(size, 1 << 20));
    for (let at = 0; at < size; at += zeros.length) writeSync(fd, zeros, 0, Math.min(zeros.length, size - at), at);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  unlinkSync(file);
}

/** Rewrites the whole file (no old copy stays in free space) and empties the write-ahead log; a warning if it could not. */
function compact(db: Db, what: string): string | undefined {
  db.exec('VACUUM');
  if (db.pragma('journal_mode', { simple: true }) !== 'wal') return undefined;
  const [result] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[];
  if (result && result.busy !== 0) {
    return `${what}: the write-ahead log could not be emptied because another connection (the running Arbiter) was reading; old copies may stay in ${what}-wal until its next checkpoint. Run the same erase again when Arbiter is idle, or with Arbiter stopped.`;
  }
  return undefined;
}

export interface EraseOptions {
  actor: Actor;
  /** Erase here even when Discord or Ghost cannot be reached; what is left there is reported. */
  localOnly?: boolean;
}

export async function erase(services: EraseServices, email: string, options: EraseOptions): Promise<ErasureReport> {
  const plan = planErasure(services, email);
  const { subject } = plan;
  if (plan.alreadyErased) return { plan, counts: plan.counts, discord: [], ghost: [], left: [], warnings: [] };
  const warnings: string[] = [];

  const read = await readOutside(services, subject);
  if (read.problems.length > 0 && !options.localOnly) throw refusal(read.problems, { discord: [], ghost: [] });
  const written = await writeOutside(services, subject, read);
  const problems = [...read.problems, ...written.problems];
  if (problems.length > 0 && !options.localOnly) throw refusal(problems, written.done);
  const left = leftWords(subject, problems, services.config.tiers);

  const { db, config } = services;
  const now = services.clock.now().toISOString();
  const found = findInDb(db, subject, now);

  // Sessions and development mail first: losing them if the rest fails costs nothing, and the audit row counts them.
  let sessions = 0;
  const sessionsDb = openSessions(config.dataDir);
  if (sessionsDb) {
    try {
      const matches = sessionMatcher(subject, found.tokens.map((t) => t.token_hash));
      const sids = (sessionsDb.prepare('SELECT sid, sess FROM sessions').all() as { sid: string; sess: string }[]).filter((r) => matches(String(r.sess))).map((r) => r.sid);
      const remove = sessionsDb.prepare('DELETE FROM sessions WHERE sid = ?');
      securely(sessionsDb, () => sids.forEach((sid) => remove.run(sid)));
      sessions = sids.length;
      const warning = compact(sessionsDb, 'sessions.db');
      if (warning) warnings.push(warning);
    } finally {
      sessionsDb.close();
    }
  }
  const outbox = findOutbox(config.dataDir, subject);
  for (const file of outbox) shred(file);

  let counts = countsOf(found, sessions, outbox.length);

  securely(db, () => {
    // Inside the transaction, in case the running server wrote about them since the look above.
    const rows = findInDb(db, subject, now);
    counts = countsOf(rows, sessions, outbox.length);
    const each = <T>(sql: string, items: T[], params: (item: T) => unknown[]) => {
      const statement = db.prepare(sql);
      for (const item of items) statement.run(...params(item));
    };
    each('DELETE FROM link_tokens WHERE id = ?', rows.tokens, (t) => [t.id]);
    each(`UPDATE webhook_events SET payload = '{}', errors = NULL, pruned_at = ? WHERE id = ?`, rows.deliveries, (id) => [now, id]);
    each('DELETE FROM jobs WHERE id = ?', rows.jobs, (id) => [id]);
    each('DELETE FROM oidc_store WHERE model = ? AND id = ?', rows.oidc, (r) => [r.model, r.id]);
    each('UPDATE role_grants SET reason = ?, revoke_reason = ? WHERE id = ?', rows.grants, (g) => [g.reason, g.revoke_reason, g.id]);
    each(
      `UPDATE role_grants SET revoked_at = ?, revoked_by = ?, revoked_by_name = NULL, revoke_reason = 'the subscriber was erased' WHERE id = ?`,
      rows.grants.filter((g) => g.end),
      (g) => [now, options.actor, g.id],
    );
    // The audit log refuses changes; this one change is made with its guard lifted inside this transaction only.
    const guard = db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'audit_logs_no_update'`).pluck().get() as string | undefined;
    if (guard) db.exec('DROP TRIGGER audit_logs_no_update');
    each('UPDATE audit_logs SET email = ?, reason = ?, details = ? WHERE id = ?', rows.audit, (r) => [r.email, r.reason, r.details, r.id]);
    if (guard) db.exec(guard);
    each(
      `UPDATE subscriptions SET email = ?, name = '', discord_id = NULL, linked_at = NULL, updated_at = ? WHERE subscription_id = ?`,
      rows.subscriptions,
      (id) => [subject.hash, now, id],
    );
    services.audit.record({ actor: options.actor, action: 'subscriber.erased', email: subject.hash, details: { ...counts, ...(problems.length > 0 ? { leftOn: unique(problems.map((p) => p.service)) } : {}) } });
  });
  // The search index keeps a removed row's trigrams until its segments merge: merge them now, before the rewrite.
  db.exec(`INSERT INTO subscription_text (subscription_text) VALUES ('optimize')`);
  const warning = compact(db, 'arbiter.db');
  if (warning) warnings.push(warning);

  // A reconcile the running server had begun before the change above may have given a role back meanwhile.
  let done = written.done;
  if (problems.length === 0) {
    const again = await readOutside(services, subject);
    const rewritten = await writeOutside(services, subject, again);
    done = { discord: mergeDiscord(done.discord, rewritten.done.discord), ghost: [...done.ghost, ...rewritten.done.ghost] };
    for (const problem of [...again.problems, ...rewritten.problems]) {
      warnings.push(`Checking ${problem.service} once more after the erasure failed (${problem.message}); it was done before, so only a change made there meanwhile could be left.`);
    }
  }

  const leftovers = stillNamed(services, subject);
  if (leftovers) warnings.push(`${leftovers} Arbiter wrote them while this ran; run the same erase again.`);
  return { plan, counts, discord: done.discord, ghost: done.ghost, left, warnings };
}

function mergeDiscord(a: DiscordOutcome[], b: DiscordOutcome[]): DiscordOutcome[] {
  return a.map((d) => {
    const later = b.find((x) => x.userId === d.userId);
    return later ? { userId: d.userId, removed: [...d.removed, ...later.removed], inServer: d.inServer && later.inServer } : d;
  });
}

/** What still names the subject after the erasure, in words, if anything. */
function stillNamed(services: EraseServices, subject: Subject): string | undefined {
  const found = findInDb(services.db, subject, services.clock.now().toISOString());
  const rest = [
    [found.subscriptions.length, 'subscriptions'],
    [found.deliveries.length, 'webhook deliveries'],
    [found.jobs.length, 'jobs'],
    [found.audit.length, 'audit rows'],
    [found.tokens.length, 'link tokens'],
    [found.oidc.length, 'OpenID Connect records'],
  ].filter(([n]) => (n as number) > 0);
  return rest.length > 0 ? `Some data still names them: ${rest.map(([n, what]) => `${n} ${what}`).join(', ')}.` : undefined;
}

function refusal(problems: Outside[], done: OutsideDone): ArbiterError {
  const services = unique(problems.map((p) => p.service));
  const reasons = problems.map((p) => p.message).join('; ');
  return new ArbiterError(
    services.includes('Discord') ? 'discord_unavailable' : 'ghost_unavailable',
    `Could not undo on ${services.join(' and ')} what Arbiter did there (${reasons}). Nothing was changed in Arbiter's data.${doneWords(done)} ` +
      `Try again when ${services.join(' and ')} can be reached, or add --local-only to erase Arbiter's data anyway and be told what is left there.`,
  );
}
