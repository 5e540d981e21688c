/**
 * The periodic sweep under Discord's rate limits: linked members who each hold one wrong role (half lack the role
 * their active subscription gives, half keep the role of a cancelled one), on the Discord stand-in with a global
 * limit and the shared member-role bucket. A sweep is queued as src/server.ts queues it; the time until every member
 * is repaired is compared with the least time the configured limits allow for the requests Arbiter made.
 *
 * Run: npm run bench:sweep. BENCH_SWEEP=real,raised,unlimited (the default) picks the scenarios; "full" is 2,000
 * members at the real limits (about 35 minutes). BENCH_SWEEP_MEMBERS and BENCH_SWEEP_REAL_MEMBERS change the member
 * counts. Arbiter runs in its own process (src/main.ts through tsx, NODE_ENV=test so that Ghost and SMTP may stay
 * unset); the stand-in runs in this one.
 */
import { join } from 'node:path';
import { startFakeDiscord, type FakeDiscord, type RateLimitOptions } from '../stand-ins/discord.js';
import { systemClock } from '../src/clock.js';
import { openDatabase } from '../src/db/open.js';
import { createJobQueue } from '../src/jobs/queue.js';
import { SWEEP_JOB, SWEEP_KEY } from '../src/roles/jobs.js';
import { createSubscriptionStore } from '../src/subscriptions/store.js';
import { tempDir, testEnv } from '../test/support/config.js';
import { until } from '../test/support/server.js';
import { ROLE, WORLD_TIERS } from '../test/support/world.js';
import { CLIENT, discordEnv, GUILD_ID, startArbiter } from './parts/arbiter-process.js';
import { commitProbe, describeMachine, loadNow, machine, percentiles, table, writeResults } from './parts/report.js';

/** Time for Arbiter to start, log in to the gateway and check its permissions before the sweep is due. */
const SWEEP_DELAY_MS = Number(process.env.BENCH_SWEEP_DELAY_MS ?? 15_000);
const ROLE_ROUTES = ['PUT /guilds/:guild/members/:user/roles/:role', 'DELETE /guilds/:guild/members/:user/roles/:role'] as const;

/** Discord's global limit for a bot: 50 requests a second. */
const GLOBAL = { limit: 50, windowMs: 1000 };

interface Scenario {
  name: string;
  members: number;
  /** The shared bucket of PUT and DELETE /guilds/{guild}/members/{user}/roles/{role}, per guild. */
  roleBucket: { limit: number; windowMs: number };
  why: string;
  /** The stand-in enforces no global limit. */
  noGlobal?: boolean;
}

const SCENARIOS: Record<string, () => Scenario> = {
  real: () => ({
    name: 'real',
    members: Number(process.env.BENCH_SWEEP_REAL_MEMBERS ?? 200),
    roleBucket: { limit: 10, windowMs: 10_000 },
    why: 'Discord\'s limits: 50/s global, member roles 10 per 10 s per guild',
  }),
  raised: () => ({
    name: 'raised',
    members: Number(process.env.BENCH_SWEEP_MEMBERS ?? 2000),
    roleBucket: { limit: 50, windowMs: 1000 },
    why: 'member roles raised to 50 per 1 s, so the global 50/s binds',
  }),
  unlimited: () => ({
    name: 'unlimited',
    members: Number(process.env.BENCH_SWEEP_MEMBERS ?? 2000),
    roleBucket: { limit: 1000, windowMs: 1000 },
    why: 'no global limit on the stand-in (discord.js still keeps to 50/s by itself): what Arbiter can send',
    noGlobal: true,
  }),
  full: () => ({
    name: 'full',
    members: 2000,
    roleBucket: { limit: 10, windowMs: 10_000 },
    why: 'Discord\'s limits with 2,000 members',
  }),
};

function rateLimits(s: Scenario): RateLimitOptions {
  const shared = { ...s.roleBucket, bucket: 'guild-member-roles' };
  return {
    global: s.noGlobal ? Infinity : GLOBAL.limit,
    globalWindowMs: GLOBAL.windowMs,
    routes: Object.fromEntries(ROLE_ROUTES.map((r) => [r, shared])),
  };
}

/** The least time n requests need under a limit of `limit` per fixed window of `windowMs` that opens with the first
 *  request: from the first request to the last. */
function fixedWindowMinMs(n: number, limit: number, windowMs: number): number {
  return n === 0 ? 0 : (Math.ceil(n / limit) - 1) * windowMs;
}

/**
 * The fixed windows the stand-in opened for these arrival times (ms), as it counts them: each opens with the first
 * request after the previous one closed. Time lost to pacing shows as idle gaps between a window's close and the
 * next request, and as windows that closed before they were full.
 */
function windowTrace(times: readonly number[], limit: number, windowMs: number) {
  const windows: { openedAt: number; count: number; idleBeforeMs: number }[] = [];
  for (const at of [...times].sort((a, b) => a - b)) {
    const last = windows[windows.length - 1];
    if (last && at < last.openedAt + windowMs) last.count++;
    else windows.push({ openedAt: at, count: 1, idleBeforeMs: last ? at - (last.openedAt + windowMs) : 0 });
  }
  const notFull = windows.slice(0, -1).filter((w) => w.count < limit);
  return {
    windows: windows.length,
    idleMs: windows.reduce((n, w) => n + w.idleBeforeMs, 0),
    notFull: notFull.length,
    missing: notFull.reduce((n, w) => n + limit - w.count, 0),
  };
}

const isBot = (headers: Record<string, unknown>) => headers.authorization === `Bot ${CLIENT.botToken}`;
const routeOf = (method: string, path: string) =>
  /\/guilds\/\d+\/members\/\d+\/roles\/\d+$/.test(path) ? `${method} member role`
    : /\/guilds\/\d+\/members\/\d+$/.test(path) ? `${method} member`
      : /\/guilds\/\d+\/members$/.test(path) ? `${method} member list` : `${method} other`;

async function run(s: Scenario) {
  const dir = tempDir('arbiter-bench-sweep-');
  const discord: FakeDiscord = await startFakeDiscord({
    ...CLIENT,
    guildId: GUILD_ID,
    roles: [{ id: ROLE.awakened, name: 'Awakened', position: 2 }, { id: ROLE.ascended, name: 'Ascended', position: 3 }],
    botRolePosition: 10,
    rateLimits: rateLimits(s),
  });
  // Members already in the server before Arbiter starts; even IDs lack their role, odd ones keep a cancelled one.
  const ids: string[] = [];
  for (let i = 0; i < s.members; i++) {
    const id = String(700000000000000000n + BigInt(i));
    discord.addUser({ id, username: `member${i}` });
    discord.memberJoins(id, i % 2 === 0 ? [] : [ROLE.awakened]);
    ids.push(id);
  }
  // Arbiter's data before it starts: linked subscriptions (even ones active, odd ones cancelled), and a sweep queued
  // as src/server.ts queues its first one, due once the bot has logged in and checked its permissions.
  const dataDir = join(dir.path, 'data');
  const db = openDatabase(join(dataDir, 'arbiter.db'));
  const subscriptions = createSubscriptionStore(db);
  const seededAt = new Date(Date.now() - 3_600_000).toISOString();
  db.transaction(() => {
    ids.forEach((id, i) => {
      subscriptions.save({ subscription_id: `sub_${i}`, email: `m${i}@example.com`, name: '', tier: 'awakened', status: i % 2 === 0 ? 'active' : 'cancelled', last_event_at: seededAt, updated_at: seededAt });
      subscriptions.link(`sub_${i}`, id, seededAt);
    });
  })();
  const started = Date.now() + SWEEP_DELAY_MS;
  createJobQueue(db, systemClock).enqueue(SWEEP_JOB, SWEEP_KEY, {}, { runAt: new Date(started), budgetMs: 60 * 60_000, keepPayload: true });
  db.close();

  const lines = { jobMs: [] as number[], deferrals: 0, retries: 0, rateLimitWaits: 0, errors: [] as string[] };
  const arbiter = await startArbiter({ dir: dir.path, entry: 'tsx', tiers: WORLD_TIERS, env: testEnv(dir.path, {
    ...discordEnv(discord),
    LOG_LEVEL: 'info',
    // No timer: the sweep queued above is the one measured.
    RECONCILE_INTERVAL_MINUTES: '0',
    SWEEP_MAX_REMOVALS: String(s.members),
  }), onLine: (line) => {
    if (line.msg === 'job done' && line.kind === 'reconcile') lines.jobMs.push(Number(line.ms));
    else if (line.msg === 'job waits: its lane is paused') lines.deferrals++;
    else if (line.msg === 'job will be retried') lines.retries++;
    else if (line.msg === 'Discord rate limit: the lane waits') lines.rateLimitWaits++;
    else if (line.level === 'error') lines.errors.push(String(line.msg));
  } });
  try {
    await until(() => Date.now() >= started - 50, SWEEP_DELAY_MS + 1000, 'the sweep to be due', 10);
    const readyBefore = discord.identifies.length > 0;
    const from = discord.requests.length;
    const before = discord.rateLimitStats();
    const cpu0 = arbiter.cpuSeconds();
    const own0 = process.cpuUsage();
    const repaired = (id: string, i: number) => (discord.member(id)?.roles.includes(ROLE.awakened) ?? false) === (i % 2 === 0);
    await until(() => ids.every(repaired), 4 * 3_600_000, 'every member repaired', 100);
    const repairs = discord.roleChanges.filter((c) => c.by === 'bot' && c.at >= started);
    const finished = Math.max(...repairs.map((c) => c.at));
    const cpu = arbiter.cpuSeconds() - cpu0;
    const own = process.cpuUsage(own0);
    const after = discord.rateLimitStats();
    const requests = discord.requests.slice(from).filter((r) => isBot(r.headers));
    const answered = requests.filter((r) => r.status !== 429);
    const roleRequests = answered.filter((r) => routeOf(r.method, r.path).endsWith('member role'));
    const byRoute: Record<string, number> = {};
    for (const r of answered) byRoute[routeOf(r.method, r.path)] = (byRoute[routeOf(r.method, r.path)] ?? 0) + 1;
    // The stand-in's global windows replayed over the arrivals: how long before its window closed each refused one came.
    const globalCloses = new Map<(typeof requests)[number], number>();
    if (!s.noGlobal) {
      let open = -Infinity;
      let count = 0;
      for (const r of requests) {
        if (r.at >= open + GLOBAL.windowMs) [open, count] = [r.at, 0];
        if (count >= GLOBAL.limit) globalCloses.set(r, open + GLOBAL.windowMs - r.at);
        else count++;
      }
    }
    // A 429 "once the bucket is known": an earlier request of the same method and route had been answered.
    const refused = requests.filter((r) => r.status === 429).map((r) => {
      const route = routeOf(r.method, r.path);
      const known = requests.some((o) => o.at < r.at && o.status !== 429 && o.status !== 0 && routeOf(o.method, o.path) === route);
      return { route, atMs: r.at - started, known, globalWindowClosesInMs: globalCloses.get(r) ?? null };
    });
    const tooMany = {
      user: after.tooManyRequests.user - before.tooManyRequests.user,
      global: after.tooManyRequests.global - before.tooManyRequests.global,
      shared: after.tooManyRequests.shared - before.tooManyRequests.shared,
    };

    const minGlobalMs = fixedWindowMinMs(answered.length, GLOBAL.limit, GLOBAL.windowMs);
    const minRolesMs = fixedWindowMinMs(roleRequests.length, s.roleBucket.limit, s.roleBucket.windowMs);
    const minimumMs = Math.max(minGlobalMs, minRolesMs);
    // The floor for any client: one role change per member, and the member list.
    const necessary = s.members + (byRoute['GET member list'] ?? 0);
    const floorMs = Math.max(fixedWindowMinMs(necessary, GLOBAL.limit, GLOBAL.windowMs), fixedWindowMinMs(s.members, s.roleBucket.limit, s.roleBucket.windowMs));
    const elapsedMs = finished - started;
    const firstRole = Math.min(...roleRequests.map((r) => r.at)) - started;
    const trace = {
      global: windowTrace(requests.map((r) => r.at), GLOBAL.limit, GLOBAL.windowMs),
      memberRoles: windowTrace(roleRequests.map((r) => r.at), s.roleBucket.limit, s.roleBucket.windowMs),
    };
    const result = {
      scenario: s.name,
      why: s.why,
      members: s.members,
      limits: { global: GLOBAL, memberRoles: s.roleBucket, otherRoutes: 'stand-in default: 1000 per 1 s per route' },
      requests: { total: answered.length, byRoute, memberRole: roleRequests.length },
      binding: minRolesMs >= minGlobalMs ? 'member-role bucket' : 'global',
      minimumS: minimumMs / 1000,
      floorS: floorMs / 1000,
      elapsedS: elapsedMs / 1000,
      /** CPU time of Arbiter's process from the sweep's start until all were repaired; and of the stand-in's. */
      cpuS: cpu,
      standInCpuS: (own.user + own.system) / 1e6,
      ratio: minimumMs > 0 ? elapsedMs / minimumMs : null,
      firstRoleRequestS: firstRole / 1000,
      tooManyRequests: tooMany,
      trace,
      // Route-bucket 429s only: the global limit has no headers to pace by.
      refusedAfterBucketKnown: refused.filter((r) => r.known && r.globalWindowClosesInMs === null).length,
      refused,
      deferrals: lines.deferrals,
      retries: lines.retries,
      rateLimitWaits: lines.rateLimitWaits,
      errors: lines.errors.slice(0, 20),
      reconcileJobMs: lines.jobMs.length > 0 ? percentiles(lines.jobMs) : null,
      botReadyBeforeSweep: readyBefore,
      ...(await afterStop()),
    };
    return result;
  } finally {
    await arbiter.stop();
    await discord.close();
    dir.remove();
  }

  /** What Arbiter's database says once it has stopped: the sweep's summary and any dead job. */
  async function afterStop() {
    await arbiter.stop();
    const db = openDatabase(join(dataDir, 'arbiter.db'));
    try {
      const summary = db.prepare(`SELECT details FROM audit_logs WHERE action = 'sweep.completed' ORDER BY id DESC LIMIT 1`).pluck().get() as string | undefined;
      const dead = db.prepare(`SELECT COUNT(*) FROM jobs WHERE status = 'dead'`).pluck().get() as number;
      return { dead, sweep: summary ? JSON.parse(summary) : null };
    } finally {
      db.close();
    }
  }
}

const DEFAULT_SCENARIOS = 'real,raised,unlimited';
const names = (process.env.BENCH_SWEEP ?? DEFAULT_SCENARIOS).split(',').map((n) => n.trim()).filter(Boolean);
for (const n of names) if (!SCENARIOS[n]) throw new Error(`BENCH_SWEEP: unknown scenario "${n}" (known: ${Object.keys(SCENARIOS).join(', ')})`);
const where = machine();
const results = [];
for (const n of names) {
  const s = SCENARIOS[n]!();
  console.error(`${s.name}: ${s.members} members, ${s.why} ...`);
  results.push(await run(s));
}
const loadAtEnd = loadNow();
const probe = commitProbe();
console.log(`Sweep under Discord's rate limits (${describeMachine(where, loadAtEnd)}; one SQLite commit p50 ${probe.p50.toFixed(2)} ms, p99 ${probe.p99.toFixed(2)} ms)\n`);
console.log(table(
  ['scenario', 'members', 'member-role bucket', 'requests (role)', 'binds', 'minimum s', 'elapsed s', 'ratio', 'route 429s (bucket known)', 'global 429s', 'lane pauses', 'dead', 'Arbiter CPU s'],
  results.map((r) => [
    r.scenario, r.members, `${r.limits.memberRoles.limit} / ${r.limits.memberRoles.windowMs / 1000} s`,
    `${r.requests.total} (${r.requests.memberRole})`, r.binding, r.minimumS.toFixed(1), r.elapsedS.toFixed(1),
    r.ratio === null ? '-' : r.ratio.toFixed(3), `${r.tooManyRequests.user + r.tooManyRequests.shared} (${r.refusedAfterBucketKnown})`,
    r.tooManyRequests.global, r.deferrals, r.dead, r.cpuS.toFixed(1),
  ]),
));
for (const r of results) {
  console.log(`\n${r.scenario}: ${r.why}. Requests by route ${JSON.stringify(r.requests.byRoute)}; the sweep found ${JSON.stringify(r.sweep)}`);
  console.log(`  floor (one role change per member and the member list): ${r.floorS.toFixed(1)} s; first role request ${r.firstRoleRequestS.toFixed(2)} s after the sweep was due`);
  const early = r.refused.flatMap((x) => (x.globalWindowClosesInMs === null ? [] : [x.globalWindowClosesInMs]));
  if (early.length > 0) console.log(`  the global 429s arrived this many ms before the stand-in's one-second window closed: ${early.join(', ')}`);
  if (r.reconcileJobMs) console.log(`  reconcile job ms (claim to done): p50 ${r.reconcileJobMs.p50} p95 ${r.reconcileJobMs.p95} p99 ${r.reconcileJobMs.p99} max ${r.reconcileJobMs.max}`);
  const t = r.binding === 'global' ? r.trace.global : r.trace.memberRoles;
  console.log(`  ${r.binding} windows: ${t.windows}; idle between a window's close and the next request ${(t.idleMs / 1000).toFixed(2)} s; windows closed before full ${t.notFull} (${t.missing} requests short)`);
  if (r.errors.length > 0) console.log(`  errors logged: ${r.errors.join('; ')}`);
}
// Other scenarios than the default ones go to a file of their own: bench/results/sweep.json keeps the default run.
const file = names.join(',') === DEFAULT_SCENARIOS ? 'sweep' : `sweep-${names.join('-')}`;
console.log(`\n${writeResults(file, { machine: where, loadAtEnd, commitMs: probe, results })}`);
