/**
 * Arbiter at a million subscriptions: the same measurements on a small database (10,000 subscriptions) and a large
 * one (1,000,000, with 5,000,000 audit rows; bench/scale-data.ts says what else), in one run. Each size has its own
 * Arbiter started on its DATA_DIR, in its own process (production mode, stand-ins for Discord, Ghost and SMTP),
 * both at once, and each measurement alternates between the two: webhook ingest, then (once the first daily prune
 * is done) the admin search, the member page and the audit log's pages, over HTTP as an admin signed in through the
 * Discord stand-in. The servers run src/main.ts through tsx with bench/sql-trace.ts loaded, so that every SQL
 * statement they ran can be listed with its query plan and its own time at both sizes.
 * Run: npm run bench:scale. BENCH_SCALE_SUBSCRIPTIONS sets the large size (the small one is a hundredth of it);
 * BENCH_SCALE_CACHE=<dir> keeps the filled databases there and copies them for later runs (the fill of the large
 * one takes many minutes); BENCH_SCALE_RUNS sets how many rounds each page is asked for (3);
 * BENCH_SCALE_KEEP=1 keeps the work directories (databases, Arbiter's logs).
 */
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fold } from '../src/subscriptions/store.js';
import { tempDir } from '../test/support/config.js';
import { ROLE, WORLD_TIERS, type Browser } from '../test/support/world.js';
import { ingest, signInAdmin, startArbiter, startStandIns, timedGet, type IngestResult, type RunningArbiter, type StandIns } from './parts/arbiter-process.js';
import { ROOT } from './parts/processes.js';
import { loadNow, machine, median, percentile, writeResults } from './parts/report.js';
import { statementKey } from './sql-trace.js';
import { fillScaleDatabase, scaleTargets, type ScaleTargets } from './scale-data.js';

const LARGE = Number(process.env.BENCH_SCALE_SUBSCRIPTIONS ?? 1_000_000);
const SMALL = Math.round(LARGE / 100);
const DELIVERIES = Number(process.env.BENCH_SCALE_DELIVERIES ?? 2000);
const CONCURRENCY = 8;
const RUNS = Number(process.env.BENCH_SCALE_RUNS ?? 3);
/** Distinct subscribers looked for, per kind of page. */
const PEOPLE = 8;
const CACHE = process.env.BENCH_SCALE_CACHE;
const TABLES = ['subscriptions', 'webhook_events', 'audit_logs', 'link_tokens', 'role_grants', 'jobs'] as const;

interface Timing {
  median: number;
  p90: number;
  n: number;
}

interface SizeResult {
  subscriptions: number;
  rows: Record<string, number>;
  fillSeconds: number | null;
  /** arbiter.db + arbiter.db-wal, MB: after the fill, and while the server runs after the ingest. */
  diskMb: { filled: number; running: number };
  healthyMs: number;
  signInMs: number;
  /** The first daily prune, 5 minutes after start, which the page measurements wait for. */
  pruneMs: number | null;
  ingest: Omit<IngestResult, 'latencies'> & { rounds: { perSecond: number; p99: number }[] };
  pages: Record<PageName, Timing>;
  /** Statements the server ran, in the order first run, with the phase that first ran them. */
  statements: { sql: string; args: unknown[]; phase: string }[];
  load: string[];
}

const PAGE_NAMES = ['search: part of an email', 'search: name', 'search: Discord ID', 'search: subscription ID', 'member page', 'audit: first page', 'audit: one person', 'audit: an action'] as const;
type PageName = (typeof PAGE_NAMES)[number];

function pageUrls(targets: ScaleTargets): Record<PageName, string[]> {
  const q = (values: string[]) => values.map((v) => `/admin/members?q=${encodeURIComponent(v)}`);
  return {
    'search: part of an email': q(targets.emailParts),
    'search: name': q(targets.names),
    'search: Discord ID': q(targets.discordIds),
    'search: subscription ID': q(targets.subscriptionIds),
    'member page': targets.discordIds.map((id) => `/admin/members/${id}`),
    'audit: first page': Array<string>(PEOPLE).fill('/admin/audit'),
    'audit: one person': targets.discordIds.map((id) => `/admin/audit?discord=${id}`),
    'audit: an action': Array.from({ length: PEOPLE }, (_, i) => (i % 2 === 0 ? '/admin/audit?action=grant.added' : '/admin/audit?action=subscription.cancelled')),
  };
}

function diskMb(dataDir: string): number {
  const size = (name: string) => (existsSync(join(dataDir, name)) ? statSync(join(dataDir, name)).size : 0);
  return (size('arbiter.db') + size('arbiter.db-wal')) / 1e6;
}

function rowCounts(file: string): Record<string, number> {
  const db = new Database(file, { readonly: true });
  try {
    return Object.fromEntries(TABLES.map((t) => [t, db.prepare(`SELECT COUNT(*) FROM ${t}`).pluck().get() as number]));
  } finally {
    db.close();
  }
}

/** The filled database in `<dir>/data/arbiter.db`: made now, or copied from BENCH_SCALE_CACHE. */
async function prepareDatabase(dir: string, subscriptions: number): Promise<{ fillSeconds: number | null }> {
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'arbiter.db');
  const cached = CACHE ? join(CACHE, `scale-${subscriptions}.db`) : null;
  if (cached && existsSync(cached)) {
    copyFileSync(cached, file);
    return { fillSeconds: null };
  }
  const t0 = performance.now();
  await fillScaleDatabase(file, subscriptions);
  const fillSeconds = (performance.now() - t0) / 1000;
  if (cached) {
    mkdirSync(CACHE!, { recursive: true });
    copyFileSync(file, cached);
  }
  return { fillSeconds };
}

/** Waits until the worker has done every job that is due (mail for new subscriptions, reconciles). */
async function workerDone(file: string): Promise<void> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  const due = db.prepare(`SELECT COUNT(*) FROM jobs WHERE status IN ('pending', 'running') AND run_at <= ?`).pluck();
  try {
    for (const deadline = Date.now() + 300_000; Date.now() < deadline; ) {
      if ((due.get(new Date().toISOString()) as number) === 0) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('the worker did not finish its jobs within 5 minutes');
  } finally {
    db.close();
  }
}

/**
 * Waits for the daily prune, which Arbiter first runs 5 minutes after it starts: it holds the connection while it
 * reads the link tokens, and would otherwise fall into one of the measurements. Returns the time its log line gives.
 */
async function firstPrune(file: string, log: string, since: string): Promise<number | null> {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  const done = db.prepare(`SELECT COUNT(*) FROM jobs WHERE kind = 'prune' AND status IN ('done', 'dead') AND finished_at >= ?`).pluck();
  try {
    for (const deadline = Date.now() + 600_000; (done.get(since) as number) === 0; ) {
      if (Date.now() > deadline) throw new Error('no prune within 10 minutes of the start');
      await new Promise((r) => setTimeout(r, 1000));
    }
  } finally {
    db.close();
  }
  const line = readFileSync(log, 'utf8').split('\n').find((l) => l.includes('"msg":"pruned old data"'));
  return line ? (JSON.parse(line) as { ms: number }).ms : null;
}

function timing(values: number[]): Timing {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: percentile(sorted, 50), p90: percentile(sorted, 90), n: sorted.length };
}

type Size = 'small' | 'large';

/** One size's Arbiter, with what is being recorded about it. */
interface Side {
  size: Size;
  subscriptions: number;
  dir: string;
  file: string;
  targets: ScaleTargets;
  arbiter: RunningArbiter;
  startedAt: string;
  trace: string;
  phases: { phase: string; lines: number }[];
}

function phaseDone(side: Side, phase: string): void {
  side.phases.push({ phase, lines: readFileSync(side.trace, 'utf8').split('\n').filter(Boolean).length });
}

async function startSide(size: Size, subscriptions: number, dir: string, standIns: StandIns): Promise<Side> {
  const trace = join(dir, 'statements.jsonl');
  writeFileSync(trace, '');
  const startedAt = new Date().toISOString();
  const arbiter = await startArbiter({ dir, standIns, tiers: WORLD_TIERS, entry: 'tsx', sqlTrace: trace });
  const side: Side = { size, subscriptions, dir, file: join(dir, 'data/arbiter.db'), targets: scaleTargets(subscriptions, PEOPLE), arbiter, startedAt, trace, phases: [] };
  phaseDone(side, 'start');
  return side;
}

/** Half new subscribers, half upgrades and downgrades of subscribers already there. */
function deliveryFields(side: Side, run: string) {
  return (i: number) => {
    if (i % 2 === 0) return { subscription_id: `sub_${run}_${i}`, customer_email: `new.${run}.${i}@example.com`, customer_name: `New Subscriber ${i}`, tier: 'awakened' };
    const p = side.targets.existing[i % side.targets.existing.length]!;
    const up = i % 4 === 1;
    return { event: up ? 'subscription.upgraded' : 'subscription.downgraded', subscription_id: p.subscriptionId, customer_email: p.email, customer_name: p.name, tier: up ? 'ascended' : 'awakened' };
  };
}

/**
 * Both sizes run at once, each in its own Arbiter, and every measurement alternates between them (small first in
 * one round, large first in the next): on a shared machine the load changes by the minute, and both sizes meet the
 * same changes.
 */
async function measureBoth(standIns: StandIns, dirs: Record<Size, string>, fills: Record<Size, { fillSeconds: number | null }>): Promise<Record<Size, SizeResult>> {
  const load: string[] = [loadNow().join(' ')];
  const sizes = { small: SMALL, large: LARGE };
  const before = {} as Record<Size, { rows: Record<string, number>; filled: number }>;
  for (const size of ['small', 'large'] as const) before[size] = { rows: rowCounts(join(dirs[size], 'data/arbiter.db')), filled: diskMb(join(dirs[size], 'data')) };
  console.log(`\nstarting both Arbiters (load ${load[0]})`);
  const sides = { small: await startSide('small', SMALL, dirs.small, standIns), large: await startSide('large', LARGE, dirs.large, standIns) };
  const both = Object.values(sides);
  const order = (round: number) => (round % 2 === 0 ? [sides.small, sides.large] : [sides.large, sides.small]);
  try {
    const signIn = {} as Record<Size, { browser: Browser; ms: number }>;
    for (const side of both) {
      signIn[side.size] = await signInAdmin(side.arbiter, standIns.discord);
      phaseDone(side, 'sign-in and dashboard');
    }

    const stamp = Date.now().toString(36);
    for (const side of both) {
      await ingest(side.arbiter.url, 100, CONCURRENCY, (i) => deliveryFields(side, `${side.size}w${stamp}`)(i));
      await workerDone(side.file);
    }
    const rounds = { small: [] as IngestResult[], large: [] as IngestResult[] };
    for (let round = 0; round < 2; round++) {
      for (const side of order(round)) {
        const result = await ingest(side.arbiter.url, DELIVERIES, CONCURRENCY, deliveryFields(side, `${side.size}${round}${stamp}`));
        console.log(`  ${side.size} ingest, round ${round + 1}: ${result.perSecond.toFixed(0)} deliveries/s, p99 ${result.p99.toFixed(1)} ms`);
        rounds[side.size].push(result);
        await workerDone(side.file);
      }
    }
    const running = { small: diskMb(join(dirs.small, 'data')), large: diskMb(join(dirs.large, 'data')) };
    load.push(loadNow().join(' '));
    for (const side of both) phaseDone(side, 'ingest (and the worker)');

    console.log('  waiting for the first daily prune of each (5 minutes after its start)...');
    const pruneMs = { small: await firstPrune(sides.small.file, sides.small.arbiter.log, sides.small.startedAt), large: await firstPrune(sides.large.file, sides.large.arbiter.log, sides.large.startedAt) };
    for (const side of both) phaseDone(side, 'daily prune');

    const times = { small: {} as Record<PageName, number[]>, large: {} as Record<PageName, number[]> };
    for (const name of PAGE_NAMES) {
      for (const side of both) {
        const urls = pageUrls(side.targets)[name];
        await timedGet(signIn[side.size].browser, `${side.arbiter.url}${urls[0]}`);
        times[side.size][name] = [];
      }
      for (let round = 0; round < RUNS; round++) {
        for (const side of order(round)) {
          for (const url of pageUrls(side.targets)[name]) times[side.size][name].push(await timedGet(signIn[side.size].browser, `${side.arbiter.url}${url}`));
        }
      }
      console.log(`  ${name}: median ${median(times.small[name]).toFixed(1)} ms small, ${median(times.large[name]).toFixed(1)} ms large`);
      for (const side of both) phaseDone(side, name);
    }
    load.push(loadNow().join(' '));

    // Each search is checked to find its subscriber: a fast search that finds nothing would prove nothing.
    for (const side of both) {
      for (const [k, q] of side.targets.emailParts.entries()) {
        const res = await signIn[side.size].browser.get(`${side.arbiter.url}/admin/members?q=${encodeURIComponent(q)}`);
        if (!(await res.text()).includes(side.targets.subscriptionIds[k]!)) throw new Error(`the search for "${q}" did not find ${side.targets.subscriptionIds[k]}`);
      }
    }

    const result = (side: Side): SizeResult => {
      const lines = readFileSync(side.trace, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { sql: string; args: unknown[] });
      const merged = rounds[side.size].flatMap((r) => r.latencies).sort((a, b) => a - b);
      const seconds = rounds[side.size].reduce((n, r) => n + r.seconds, 0);
      return {
        subscriptions: sizes[side.size],
        rows: before[side.size].rows,
        fillSeconds: fills[side.size].fillSeconds,
        diskMb: { filled: before[side.size].filled, running: running[side.size] },
        healthyMs: side.arbiter.healthyMs,
        signInMs: signIn[side.size].ms,
        pruneMs: pruneMs[side.size],
        ingest: {
          deliveries: merged.length,
          concurrency: CONCURRENCY,
          seconds,
          perSecond: merged.length / seconds,
          p50: percentile(merged, 50),
          p99: percentile(merged, 99),
          max: merged.at(-1)!,
          rounds: rounds[side.size].map((r) => ({ perSecond: r.perSecond, p99: r.p99 })),
        },
        pages: Object.fromEntries(PAGE_NAMES.map((name) => [name, timing(times[side.size][name])])) as Record<PageName, Timing>,
        statements: lines.map((l, i) => ({ ...l, phase: side.phases.find((p) => i < p.lines)?.phase ?? 'after' })),
        load,
      };
    };
    return { small: result(sides.small), large: result(sides.large) };
  } finally {
    await Promise.all(both.map((side) => side.arbiter.stop()));
  }
}

const DATA_STATEMENT = /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i;
const BIG = new Set<string>(TABLES);

interface PlanRow {
  phase: string;
  sql: string;
  /** The parameters of the large run (else the small one's). */
  args: unknown[];
  plan: string[];
  /** A full pass over one of the big tables: SCAN <table> without a search through an index. */
  scans: string[];
  ms: { small: number | null; large: number | null };
}

function openForPlans(file: string): Database.Database {
  const db = new Database(file);
  db.function('arbiter_fold', { deterministic: true }, (value: unknown) => (typeof value === 'string' ? fold(value) : value));
  return db;
}

/** Plans on the large database; each SELECT timed on both (median of 3, its own parameters from each run). */
function plans(small: SizeResult, large: SizeResult, smallFile: string, largeFile: string): PlanRow[] {
  const dbs = { small: openForPlans(smallFile), large: openForPlans(largeFile) };
  const seen = new Map<string, PlanRow>();
  const keyed = (r: SizeResult) => new Map(r.statements.map((s) => [statementKey(s.sql, s.args), s.args]));
  const args = { small: keyed(small), large: keyed(large) };
  try {
    for (const s of [...large.statements, ...small.statements]) {
      const key = statementKey(s.sql, s.args);
      if (!DATA_STATEMENT.test(s.sql) || seen.has(key)) continue;
      const db = args.large.has(key) ? dbs.large : dbs.small;
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${s.sql}`).all(...(s.args as unknown[])) as { detail: string }[]).map((r) => r.detail);
      // Newest first by id with a LIMIT and no condition reads only that many rows: a SCAN in name only.
      const bounded = !/\bWHERE\b/i.test(s.sql) && /\bORDER BY id DESC LIMIT\b/i.test(s.sql);
      const tables = new Map([...s.sql.matchAll(/\b(?:FROM|JOIN)\s+(\w+)(?:\s+(?:AS\s+)?(\w+))?/gi)].map((m) => [m[2] ?? m[1]!, m[1]!]));
      const scans = bounded ? [] : plan.filter((line) => {
        const name = /^SCAN (\w+)/.exec(line)?.[1] ?? '';
        return BIG.has(tables.get(name) ?? name);
      });
      const time = (size: 'small' | 'large') => {
        const a = args[size].get(key);
        if (!a || !/^\s*(SELECT|WITH)\b/i.test(s.sql)) return null;
        const statement = dbs[size].prepare(s.sql);
        if (!statement.reader) return null;
        const times: number[] = [];
        for (let i = 0; i < 3; i++) {
          const t0 = performance.now();
          statement.all(...(a as unknown[]));
          times.push(performance.now() - t0);
        }
        return median(times);
      };
      seen.set(key, { phase: s.phase, sql: s.sql, args: s.args, plan, scans, ms: { small: time('small'), large: time('large') } });
    }
  } finally {
    dbs.small.close();
    dbs.large.close();
  }
  return [...seen.values()];
}

const oneLine = (sql: string) => sql.replace(/\s+/g, ' ').trim();
const fmt = (n: number | null, digits = 2) => (n === null ? '-' : n.toFixed(digits));

// ---------------------------------------------------------------------------------------------------------------

const host = machine();
console.log(`Scale benchmark: ${SMALL.toLocaleString('en')} vs ${LARGE.toLocaleString('en')} subscriptions, ${host.nproc} CPUs (${host.cpu}), ${host.ramGiB} GiB, Node ${host.node}, load ${host.load.join(' ')}`);
const work = { small: tempDir('arbiter-bench-scale-small-'), large: tempDir('arbiter-bench-scale-large-') };
const standIns = await startStandIns([
  { id: ROLE.awakened, name: 'Awakened' },
  { id: ROLE.ascended, name: 'Ascended' },
]);
try {
  const fills = {} as Record<Size, { fillSeconds: number | null }>;
  for (const [size, n] of [['small', SMALL], ['large', LARGE]] as const) {
    console.log(`${CACHE && existsSync(join(CACHE, `scale-${n}.db`)) ? 'copying' : 'filling'} the ${size} database (${n.toLocaleString('en')} subscriptions)...`);
    fills[size] = await prepareDatabase(work[size].path, n);
    if (fills[size].fillSeconds !== null) console.log(`  filled in ${fills[size].fillSeconds!.toFixed(0)} s`);
    // The people looked for are members of the Discord server and of Ghost, as linked subscribers are.
    const targets = scaleTargets(n, PEOPLE);
    for (const id of targets.discordIds) {
      standIns.discord.addUser({ id, username: `member${id.slice(-6)}`, global_name: null });
      standIns.discord.memberJoins(id, [ROLE.awakened]);
    }
  }

  const { small, large } = await measureBoth(standIns, { small: work.small.path, large: work.large.path }, fills);
  const planRows = plans(small, large, join(work.small.path, 'data/arbiter.db'), join(work.large.path, 'data/arbiter.db'));

  console.log(`\n## Databases\n\n| | small | large |\n| --- | --- | --- |`);
  for (const t of TABLES) console.log(`| ${t} rows | ${small.rows[t]!.toLocaleString('en')} | ${large.rows[t]!.toLocaleString('en')} |`);
  console.log(`| on disk after the fill (db + wal), MB | ${small.diskMb.filled.toFixed(0)} | ${large.diskMb.filled.toFixed(0)} |`);
  console.log(`| on disk while running, after the ingest, MB | ${small.diskMb.running.toFixed(0)} | ${large.diskMb.running.toFixed(0)} |`);
  console.log(`| fill, s | ${fmt(small.fillSeconds, 0)} | ${fmt(large.fillSeconds, 0)} |`);

  const rows: { name: string; unit: string; small: number; large: number; ratio: number; within: boolean | null }[] = [];
  const worse = (name: string, unit: string, s: number, l: number, judged: boolean) => rows.push({ name, unit, small: s, large: l, ratio: l / s, within: judged ? l / s <= 2 : null });
  const better = (name: string, unit: string, s: number, l: number) => rows.push({ name, unit, small: s, large: l, ratio: s / l, within: s / l <= 2 });
  better('ingest, deliveries/s', '/s', small.ingest.perSecond, large.ingest.perSecond);
  worse('ingest p50', 'ms', small.ingest.p50, large.ingest.p50, false);
  worse('ingest p99', 'ms', small.ingest.p99, large.ingest.p99, true);
  for (const name of PAGE_NAMES) worse(`${name} (median)`, 'ms', small.pages[name].median, large.pages[name].median, true);
  worse('start to healthy', 'ms', small.healthyMs, large.healthyMs, false);
  worse('sign-in and dashboard', 'ms', small.signInMs, large.signInMs, false);
  if (small.pruneMs !== null && large.pruneMs !== null) worse('first daily prune', 'ms', small.pruneMs, large.pruneMs, false);
  console.log(`\n## Results (HTTP, one client for pages; ingest 2 rounds of ${DELIVERIES} deliveries at ${CONCURRENCY} connections per size)\n`);
  console.log('| measure | small | large | large vs small | within 2x |\n| --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(`| ${r.name} | ${r.small.toFixed(1)} | ${r.large.toFixed(1)} | ${r.ratio.toFixed(2)}x | ${r.within === null ? '(not judged)' : r.within ? 'yes' : 'NO'} |`);
  console.log(`\ningest rounds: small ${small.ingest.rounds.map((r) => `${r.perSecond.toFixed(0)}/s`).join(', ')}; large ${large.ingest.rounds.map((r) => `${r.perSecond.toFixed(0)}/s`).join(', ')}`);
  console.log(`load average (1, 5, 15 min) at the start, after the ingest, after the pages: ${small.load.join(' / ')}`);

  console.log('\n## Statements the server ran, by the phase that first ran them: plan on the large database, ms per run (median of 3)\n');
  let phase = '';
  for (const p of planRows.sort((a, b) => phaseOrder(a.phase) - phaseOrder(b.phase))) {
    if (p.phase !== phase) console.log(`\n### ${(phase = p.phase)}`);
    console.log(`${p.scans.length > 0 ? 'SCAN!' : '     '} ${fmt(p.ms.small)} / ${fmt(p.ms.large)} ms  ${oneLine(p.sql).slice(0, 160)}`);
    if (/IS NULL OR/i.test(p.sql)) console.log(`        run with ${JSON.stringify(p.args).slice(0, 150)}`);
    for (const line of p.plan) console.log(`        ${line}`);
  }
  const scans = planRows.filter((p) => p.scans.length > 0);
  console.log(`\n${scans.length} statements pass over a whole big table:`);
  for (const p of scans) console.log(`- [${p.phase}] ${fmt(p.ms.large)} ms at the large size: ${oneLine(p.sql).slice(0, 140)}\n    ${p.scans.join('; ')}`);

  const strip = (r: SizeResult) => ({ ...r, statements: undefined });
  const file = writeResults('scale', { machine: host, deliveries: DELIVERIES, concurrency: CONCURRENCY, runs: RUNS, small: strip(small), large: strip(large), results: rows, statements: planRows });
  console.log(`\nwritten: ${relative(ROOT, file)}`);
} finally {
  await standIns.close();
  if (!process.env.BENCH_SCALE_KEEP) {
    work.small.remove();
    work.large.remove();
  } else console.log(`kept: ${work.small.path} ${work.large.path}`);
}

function phaseOrder(phase: string): number {
  const order = ['start', 'sign-in and dashboard', 'ingest (and the worker)', 'daily prune', ...PAGE_NAMES, 'after'];
  return order.indexOf(phase);
}
