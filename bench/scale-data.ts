/**
 * A database as a long-running install would have it, made fast: the migrated schema, filled with prepared
 * statements in transactions of 50,000 rows with synchronous=OFF (and a large page cache) during the fill only.
 * Arbiter itself opens it afterwards as it opens any database (WAL, synchronous=FULL, its own cache size).
 *
 * Time runs over three years up to now, one subscription after another. With each new subscription come its
 * `created` delivery, its link token and, on average, 3 more audit rows and 1 more delivery about subscriptions
 * already there (half about one of the last thousand, half about any), so that ids follow time as they do in a real
 * file and older subscribers have a longer history. Per subscription: 2 deliveries, 5 audit rows, 1 link token (and
 * a few more for the last week's), 0.01 grants or blocks; done jobs for the last 30 days. Deliveries older than 90
 * days are written as the daily prune leaves them (payload '{}', pruned_at set); Arbiter's own prune then removes
 * the rest of what it would have removed by now (older link tokens above all).
 */
import { createHash } from 'node:crypto';
import type { Config } from '../src/config.js';
import { migrations } from '../src/db/migrations.js';
import { openDatabase } from '../src/db/open.js';
import { prune } from '../src/ops/prune.js';
import { ROLE } from '../test/support/world.js';

export interface ScaleCounts {
  subscriptions: number;
  linkedSubscriptions: number;
  people: number;
  webhookEvents: number;
  auditLogs: number;
  linkTokens: number;
  roleGrants: number;
  jobs: number;
}

/** Subscribers the benchmark looks for: existing, linked, with a history. */
export interface ScaleTargets {
  /** Part of an email (the middle of the local part and the domain's start), unique to one subscriber. */
  emailParts: string[];
  names: string[];
  discordIds: string[];
  subscriptionIds: string[];
  /** Existing subscriptions that webhooks may change during the ingest. */
  existing: Person[];
}

const DAY_MS = 86_400_000;
const SPAN_MS = 3 * 365 * DAY_MS;
const BATCH = 50_000;
const SCALE_ADMINS = ['500000000000000001', '500000000000000002', '500000000000000003'];

const FIRST = [
  'Ada', 'Alan', 'Grace', 'Linus', 'Margaret', 'Ken', 'Barbara', 'Dennis', 'Frances', 'Edsger', 'Radia', 'Niklaus',
  'Hedy', 'John', 'Katherine', 'Donald', 'Shafi', 'Tim', 'Sophie', 'Leslie', 'Adele', 'Guido', 'Mary', 'Bjarne',
  'Zoë', 'Łukasz', 'Søren', 'José', 'Chloé', 'Mikuláš', 'Ingrid', 'Yusuf', 'Aiko', 'Priya', 'Omar', 'Lena',
  'Mateo', 'Nadia', 'Pieter', 'Rosa', 'Tomás', 'Ulla', 'Viktor', 'Wanda', 'Xavier', 'Yara', 'Zeno', 'Björn',
];
const SYLLABLES = ['ka', 'lo', 'ven', 'mar', 'ti', 'son', 'rel', 'do', 'bar', 'ni', 'ste', 'gor', 'li', 'an', 'qu', 'ber', 'to', 'vic', 'ha', 'mel'];
const DOMAINS = ['example.com', 'mail.example.org', 'post.example.net', 'inbox.example.io', 'example.co.uk', 'correo.example.es'];

/** A number in [0, 1) that depends only on (i, salt). */
function rand(i: number, salt: number): number {
  let h = Math.imul(i ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(salt + 0x632be5ab, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return ((h ^ (h >>> 16)) >>> 0) / 4_294_967_296;
}

const capital = (s: string) => s[0]!.toUpperCase() + s.slice(1);
function lastName(i: number): string {
  return capital([0, 1, 2].map((k) => SYLLABLES[Math.floor(rand(i, 10 + k) * SYLLABLES.length)]).join(''));
}

/** A subscriber's fixed facts, derived from the subscription's index alone. */
export interface Person {
  subscriptionId: string;
  email: string;
  name: string;
  tier: 'awakened' | 'ascended';
  status: 'active' | 'suspended' | 'cancelled';
  discordId: string | null;
}

/** One subscription in 25 is a second one of the previous subscriber (same email, same Discord account). */
function ownerOf(i: number): number {
  let j = i;
  while (j > 0 && rand(j, 1) < 0.04) j--;
  return j;
}

export function person(i: number): Person {
  const owner = ownerOf(i);
  const first = FIRST[Math.floor(rand(owner, 2) * FIRST.length)]!;
  const last = lastName(owner);
  const local = `${first}.${last}.${owner.toString(36)}`.normalize('NFKD').replace(/[^\x20-\x7e]/g, '').toLowerCase();
  const linked = rand(owner, 3) < 0.7;
  const s = rand(i, 4);
  return {
    subscriptionId: `sub_${(100_000 + i).toString()}`,
    email: `${local}@${DOMAINS[Math.floor(rand(owner, 5) * DOMAINS.length)]}`,
    name: `${first} ${last}`,
    tier: rand(i, 6) < 0.65 ? 'awakened' : 'ascended',
    status: s < 0.8 ? 'active' : s < 0.95 ? 'cancelled' : 'suspended',
    discordId: linked ? String(700_000_000_000_000_000n + BigInt(owner) * 7919n) : null,
  };
}

/** An earlier subscription (half of the time one of the last thousand): whom a later row is about. */
function earlier(i: number, salt: number): number {
  const r = rand(i, salt);
  return r < 0.5 ? Math.max(0, i - Math.floor(rand(i, salt + 1) * Math.min(i + 1, 1000))) : Math.floor(rand(i, salt + 1) * (i + 1));
}

export async function fillScaleDatabase(file: string, subscriptions: number, now = Date.now()): Promise<ScaleCounts> {
  const db = openDatabase(file, migrations);
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -2000000');
  const start = now - SPAN_MS;
  const step = SPAN_MS / subscriptions;
  const iso = (ms: number) => new Date(ms).toISOString();
  const prunedBefore = now - 90 * DAY_MS;
  const jobsAfter = now - 30 * DAY_MS;

  const insertSub = db.prepare(`INSERT INTO subscriptions (subscription_id, email, name, tier, status, discord_id, linked_at,
    last_event_at, last_occurred_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const insertEvent = db.prepare(`INSERT INTO webhook_events (delivery_id, dedupe, scheme, type, subscription_id, payload,
    received_at, occurred_at, outcome, errors, pruned_at) VALUES (?, 'webhook-id', 'standard', ?, ?, ?, ?, ?, ?, ?, ?)`);
  const insertAudit = db.prepare(`INSERT INTO audit_logs (at, actor, actor_name, action, email, discord_id, subscription_id,
    role_id, reason, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const insertToken = db.prepare(`INSERT INTO link_tokens (token_hash, subscription_id, created_at, expires_at, used_at, used_by,
    revoked_at, revoked_reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
  const insertGrant = db.prepare(`INSERT INTO role_grants (discord_id, kind, role_id, reason, created_by, created_by_name,
    created_at, expires_at, revoked_at, revoked_by, revoked_by_name, revoke_reason) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?)`);
  const insertJob = db.prepare(`INSERT INTO jobs (kind, key, payload, status, attempts, run_at, give_up_at, created_at, updated_at,
    finished_at) VALUES (?, ?, ?, 'done', 1, ?, ?, ?, ?, ?)`);

  const counts: ScaleCounts = { subscriptions, linkedSubscriptions: 0, people: 0, webhookEvents: 0, auditLogs: 0, linkTokens: 0, roleGrants: 0, jobs: 0 };
  let deliveries = 0;
  let tokens = 0;
  const event = (i: number, type: string, at: number, outcome: 'applied' | 'stale' | 'invalid') => {
    const p = person(i);
    const payload = JSON.stringify({ event: type, customer_email: p.email, customer_name: p.name, tier: p.tier, subscription_id: p.subscriptionId });
    const pruned = at < prunedBefore;
    insertEvent.run(
      `msg_${(deliveries++).toString(16).padStart(12, '0')}`, type, p.subscriptionId, pruned ? '{}' : payload, iso(at), iso(at),
      outcome, outcome === 'invalid' && !pruned ? '["tier: is required"]' : null, pruned ? iso(at + 90 * DAY_MS) : null,
    );
    counts.webhookEvents++;
  };
  const audit = (at: number, actor: string, action: string, i: number, extra: { role?: string; reason?: string; details?: string; name?: string } = {}) => {
    const p = person(i);
    insertAudit.run(
      iso(at), actor, extra.name ?? null, action, action.startsWith('role.') ? null : p.email,
      action.startsWith('subscription.') && !p.discordId ? null : p.discordId, action.startsWith('role.') ? null : p.subscriptionId,
      extra.role ?? null, extra.reason ?? null, extra.details ?? null,
    );
    counts.auditLogs++;
  };
  const token = (i: number, at: number, state: 'used' | 'expired' | 'replaced' | 'inactive' | 'valid') => {
    const p = person(i);
    const hash = createHash('sha256').update(`token ${tokens++}`).digest('hex');
    insertToken.run(
      hash, p.subscriptionId, iso(at), iso(at + DAY_MS), state === 'used' ? iso(at + 600_000) : null, state === 'used' ? p.discordId : null,
      state === 'replaced' || state === 'inactive' ? iso(at + 3_600_000) : null, state === 'replaced' || state === 'inactive' ? state : null,
    );
    counts.linkTokens++;
  };

  const tick = (i: number) => {
    const p = person(i);
    const t = start + i * step;
    const owner = ownerOf(i);
    if (owner === i) counts.people++;
    const lastChange = Math.min(now - 1000, t + rand(i, 20) * (now - t));
    const linkedAt = p.discordId ? t + 600_000 : null;
    if (p.discordId) counts.linkedSubscriptions++;
    insertSub.run(
      p.subscriptionId, p.email, p.name, p.tier, p.status, p.discordId, linkedAt === null ? null : iso(linkedAt),
      iso(lastChange), rand(i, 21) < 0.5 ? iso(lastChange) : null, iso(t), iso(lastChange),
    );
    event(i, 'subscription.created', t, 'applied');
    audit(t, 'webhook', 'subscription.created', i, { details: JSON.stringify({ tier: p.tier, status: 'active', firstSeen: true }) });
    audit(t + 1000, 'system', 'link.emailed', i);
    token(i, t + 1000, p.discordId ? 'used' : t + DAY_MS < now ? 'expired' : 'valid');
    if (t > jobsAfter) {
      const job = (kind: string, key: string, payload: object) => {
        insertJob.run(kind, key, JSON.stringify(payload), iso(t), iso(t + 3 * DAY_MS), iso(t), iso(t + 2000), iso(t + 2000));
        counts.jobs++;
      };
      job('link_email', p.subscriptionId, { subscriptionId: p.subscriptionId });
      if (p.discordId) job('reconcile', p.discordId, { discordId: p.discordId, cause: 'linked' });
    }

    // What happened meanwhile to subscribers already there.
    const r = rand(i, 30);
    const later = t + step / 2;
    const other = earlier(i, 31);
    const o = person(other);
    const otherType = r < 0.5 ? 'subscription.upgraded' : r < 0.7 ? 'subscription.downgraded' : r < 0.85 ? 'subscription.cancelled' : r < 0.95 ? 'subscription.resumed' : 'subscription.suspended';
    event(other, otherType, later, r < 0.003 ? 'invalid' : r > 0.99 ? 'stale' : 'applied');
    audit(later, 'webhook', otherType, other, { details: JSON.stringify({ tier: o.tier, status: o.status }) });
    const linkedOne = earlier(i, 33);
    const l = person(linkedOne);
    if (!l.discordId) audit(later + 1000, 'system', 'link.emailed', linkedOne);
    else if (rand(i, 34) < 0.5) audit(later + 1000, 'subscriber', 'link.completed', linkedOne);
    else audit(later + 1000, 'system', 'role.added', linkedOne, { role: ROLE.awakened, reason: 'linked' });
    if (rand(i, 35) < 0.05) token(earlier(i, 36), later, rand(i, 37) < 0.5 ? 'replaced' : 'expired');
    if (rand(i, 38) < 0.01) {
      const subject = person(earlier(i, 39));
      const admin = SCALE_ADMINS[Math.floor(rand(i, 40) * SCALE_ADMINS.length)]!;
      const name = `Admin ${admin.slice(-1)}`;
      if (subject.discordId) {
        const revoked = rand(i, 41) < 0.5;
        const kind = rand(i, 42) < 0.8 ? 'grant' : 'block';
        insertGrant.run(
          subject.discordId, kind, kind === 'grant' ? ROLE.ascended : null, 'a reason', `admin:${admin}`, name, iso(later),
          revoked ? iso(later + DAY_MS) : null, revoked ? `admin:${admin}` : null, revoked ? name : null, revoked ? 'ended' : null,
        );
        counts.roleGrants++;
      }
    }
    // One audit row in a hundred is an admin's; the others are the system's work on roles.
    if (rand(i, 43) < 0.01) audit(later + 3000, `admin:${SCALE_ADMINS[i % 3]}`, 'grant.added', earlier(i, 44), { name: `Admin ${SCALE_ADMINS[i % 3]!.slice(-1)}`, role: ROLE.ascended, reason: 'a reason' });
    else audit(later + 3000, 'system', rand(i, 45) < 0.5 ? 'role.removed' : 'ghost.updated', earlier(i, 46), rand(i, 45) < 0.5 ? { role: ROLE.ascended, reason: 'downgraded' } : {});
  };

  const batch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) tick(i);
  });
  for (let i = 0; i < subscriptions; i += BATCH) batch(i, Math.min(subscriptions, i + BATCH));
  // What the daily prune would have removed by now (older link tokens, payloads, finished jobs) is gone.
  const pruned = await prune({ db, clock: { now: () => new Date(now) }, config: { retentionDays: 90 } as Config });
  counts.linkTokens -= pruned.counts.linkTokens;
  counts.jobs -= pruned.counts.doneJobs;
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return counts;
}

/** Linked subscribers with a history, spread over the file, and what the search is given to find each of them. */
export function scaleTargets(subscriptions: number, howMany: number): ScaleTargets {
  const targets: ScaleTargets = { emailParts: [], names: [], discordIds: [], subscriptionIds: [], existing: [] };
  for (let k = 0, i = Math.floor(subscriptions * 0.13); targets.discordIds.length < howMany && k < subscriptions; k++) {
    i = (i + Math.floor(subscriptions * 0.37) + 11) % subscriptions;
    const p = person(i);
    if (!p.discordId || ownerOf(i) !== i || p.status !== 'active') continue;
    const [local, domain] = p.email.split('@') as [string, string];
    targets.emailParts.push(`${local.slice(local.indexOf('.') + 1)}@${domain.slice(0, 4)}`);
    targets.names.push(p.name);
    targets.discordIds.push(p.discordId);
    targets.subscriptionIds.push(p.subscriptionId);
  }
  for (let k = 0; k < 1000; k++) targets.existing.push(person(Math.floor(rand(k, 99) * subscriptions)));
  return targets;
}
