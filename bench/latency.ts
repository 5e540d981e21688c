/**
 * Latency of the two paths a subscriber waits on, Arbiter running in its own process in production mode (src/main.ts
 * through tsx) and the stand-ins answering at once in this one (their default rate limits, which nothing here reaches):
 *  (a) a billing webhook answered 200 -> the role change recorded by the Discord stand-in, for linked members
 *      (subscription.upgraded, awakened -> ascended): one by one, back to back, and several at once;
 *  (b) GET /auth/callback of real link flows (webhook -> email -> link visit -> consent -> callback), only the
 *      callback request timed, one flow at a time, each once the last one's roles and Ghost note are done.
 *
 * Run: npm run bench:latency. BENCH_LATENCY_UPGRADES (200 per mode), BENCH_LATENCY_MODES (one,1,8) and
 * BENCH_LATENCY_LINKS (200) change the sizes.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { FakeDiscord } from '../stand-ins/discord.js';
import type { FakeGhost } from '../stand-ins/ghost.js';
import { linkIn, type TestSmtp } from '../stand-ins/smtp.js';
import { openDatabase } from '../src/db/open.js';
import { createSubscriptionStore } from '../src/subscriptions/store.js';
import { tempDir, WEBHOOK_SECRET } from '../test/support/config.js';
import { eventBody, standardHeaders } from '../test/support/webhooks.js';
import { Browser, ROLE, WORLD_TIERS } from '../test/support/world.js';
import { CLIENT, startArbiter, startStandIns } from './parts/arbiter-process.js';
import { commitProbe, describeMachine, loadNow, machine, percentiles, table, writeResults, type Percentiles } from './parts/report.js';
import { until } from '../test/support/server.js';

const UPGRADES = Number(process.env.BENCH_LATENCY_UPGRADES ?? 200);
/** How the upgrades are sent: "one" (each once the last role is on Discord), "1" (back to back), or N at once. */
const MODES: Mode[] = (process.env.BENCH_LATENCY_MODES ?? 'one,1,8').split(',').map((m) => m.trim()).filter(Boolean)
  .map((m) => (m === 'one' ? 'one by one' : m === '1' ? 'back to back' : Number(m)));
if (MODES.some((m) => typeof m === 'number' && !(Number.isInteger(m) && m > 1))) {
  throw new Error('BENCH_LATENCY_MODES: a comma-separated list of "one", "1" or a whole number of webhooks at once');
}
const LINKS = Number(process.env.BENCH_LATENCY_LINKS ?? 200);
const TARGET = { roleChangeP99Ms: 2000, callbackP99Ms: 50 };
/** Discord's global limit, which discord.js keeps to on its own: 50 requests a second. */
const GLOBAL_LIMIT = 50;
const GLOBAL_WINDOW_MS = 1000;

let nextId = 600000000000000000n;

async function post(url: string, fields: Parameters<typeof eventBody>[0]): Promise<{ answeredAt: number; answerMs: number }> {
  const body = eventBody(fields);
  const t0 = performance.now();
  const res = await fetch(`${url}/webhook/billing`, { method: 'POST', headers: standardHeaders(WEBHOOK_SECRET, body), body });
  // The answer has arrived: from here on the subscriber waits for Discord.
  const answeredAt = Date.now();
  const answerMs = performance.now() - t0;
  const text = await res.text();
  if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${text}`);
  return { answeredAt, answerMs };
}

async function pool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

async function linkFor(smtp: TestSmtp, email: string): Promise<string> {
  return linkIn((await smtp.mailTo(email, 60_000)).text);
}

/**
 * The least latency any client could have for these webhooks under Discord's global limit as discord.js keeps it
 * (50 requests in a second that opens with the first), each upgrade costing its two requests (the member read and
 * the role PUT) in order of arrival, with no time spent on anything else.
 */
function globalFloorMs(answeredAt: readonly number[]): number[] {
  const order = answeredAt.map((at, i) => ({ at, i })).sort((a, b) => a.at - b.at);
  const floor = new Array<number>(answeredAt.length);
  let windowStart = -Infinity;
  let inWindow = 0;
  const send = (earliest: number) => {
    if (earliest >= windowStart + GLOBAL_WINDOW_MS) [windowStart, inWindow] = [earliest, 0];
    if (inWindow === GLOBAL_LIMIT) [windowStart, inWindow] = [windowStart + GLOBAL_WINDOW_MS, 0];
    inWindow++;
    return Math.max(earliest, windowStart);
  };
  let free = -Infinity;
  for (const { at, i } of order) {
    const read = send(Math.max(at, free));
    const put = send(read);
    free = put;
    floor[i] = put - at;
  }
  return floor;
}

type Mode = 'one by one' | 'back to back' | number;

/**
 * (a) Linked members holding the awakened role; each gets subscription.upgraded to ascended. 'one by one': the next
 * webhook goes once the last one's role is on Discord; 'back to back': one webhook at a time, each sent when the last
 * was answered; a number: that many webhooks at once.
 */
async function upgrades(url: string, discord: FakeDiscord, members: string[], mode: Mode) {
  const answered = new Map<string, { answeredAt: number; answerMs: number }>();
  const changedAt = new Map<string, number>();
  let seen = 0;
  const collect = () => {
    for (; seen < discord.roleChanges.length; seen++) {
      const c = discord.roleChanges[seen]!;
      if (c.roleId === ROLE.ascended && c.action === 'add' && answered.has(c.userId)) changedAt.set(c.userId, c.at);
    }
  };
  const upgrade = async (id: string) => {
    answered.set(id, await post(url, { event: 'subscription.upgraded', subscription_id: `sub_${id}`, customer_email: `${id}@example.com`, tier: 'ascended' }));
  };
  const from = discord.requests.length;
  if (mode === 'one by one') {
    for (const id of members) {
      await upgrade(id);
      await until(() => (collect(), changedAt.has(id)), 60_000, `the role of ${id}`, 1);
    }
  } else {
    await pool(members, mode === 'back to back' ? 1 : mode, upgrade);
  }
  await until(() => (collect(), changedAt.size === members.length), 300_000, 'every upgrade on Discord');
  const latencies = members.map((id) => changedAt.get(id)! - answered.get(id)!.answeredAt);
  const botRequests = discord.requests.slice(from).filter((r) => r.headers.authorization === `Bot ${CLIENT.botToken}`).map((r) => r.at);
  const busiest = Math.max(...botRequests.map((t) => botRequests.filter((u) => u >= t && u < t + 1000).length));
  return {
    mode,
    upgrades: members.length,
    answerMs: percentiles(members.map((id) => answered.get(id)!.answerMs)),
    roleChangeMs: percentiles(latencies),
    globalFloorMs: percentiles(globalFloorMs(members.map((id) => answered.get(id)!.answeredAt))),
    /** Upgrades a second, from the first webhook answered to the last role on Discord. */
    throughput: members.length / ((Math.max(...changedAt.values()) - Math.min(...members.map((id) => answered.get(id)!.answeredAt))) / 1000),
    botRequestsInBusiestSecond: busiest,
    roleChangedBeforeAnswerArrived: latencies.filter((l) => l < 0).length,
  };
}

/** (b) Real link flows, one at a time; only GET /auth/callback is timed. */
async function linkFlows(url: string, discord: FakeDiscord, smtp: TestSmtp, ghost: FakeGhost, arbiterCpu: () => number) {
  const ghostNote = (email: string) => ghost.member(email)?.note;
  const people = Array.from({ length: LINKS }, () => {
    const id = String(++nextId);
    return { id, email: `link${id}@example.com`, sub: `sub_link_${id}` };
  });
  for (const p of people) {
    discord.addUser({ id: p.id, username: `user${p.id}` });
    ghost.addMember({ email: p.email, name: 'Bench' });
  }
  await pool(people, 8, async (p) => void (await post(url, { subscription_id: p.sub, customer_email: p.email, tier: 'awakened' })));
  const links = new Map<string, string>();
  for (const p of people) links.set(p.id, await linkFor(smtp, p.email));

  const callbackMs: number[] = [];
  const phases = { beforeExchange: [] as number[], exchangeToUser: [] as number[], userToJoin: [] as number[], joinToAnswer: [] as number[] };
  const outcomes: Record<string, number> = {};
  // CPU used while callbacks were under way: Arbiter's process, and this one (stand-ins and the client).
  const cpu = { arbiter: 0, here: 0 };
  for (const [i, p] of people.entries()) {
    discord.signIn(p.id);
    const browser = new Browser();
    // Each subscriber from their own address, as nginx passes it on (the link pages limit requests per address).
    const from = { 'x-forwarded-for': `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` };
    const get = (target: string) => browser.request(target, { method: 'GET', headers: from });
    const visit = await get(links.get(p.id)!);
    await visit.arrayBuffer();
    if (visit.status !== 303) throw new Error(`the link answered ${visit.status}`);
    const authorize = await browser.get(visit.headers.get('location')!);
    await authorize.arrayBuffer();
    const callback = new URL(authorize.headers.get('location')!, url).toString();
    if (!callback.startsWith(`${url}/auth/callback?`)) throw new Error(`consent did not lead to the callback: ${callback}`);
    const from0 = discord.requests.length;
    const cpu0 = arbiterCpu();
    const own0 = process.cpuUsage();
    const started = Date.now();
    const t0 = performance.now();
    const res = await get(callback);
    await res.arrayBuffer();
    callbackMs.push(performance.now() - t0);
    const ended = Date.now();
    cpu.arbiter += arbiterCpu() - cpu0;
    const own = process.cpuUsage(own0);
    cpu.here += (own.user + own.system) / 1e6;
    const where = `${res.status} ${res.headers.get('location') ?? ''}`;
    outcomes[where] = (outcomes[where] ?? 0) + 1;
    // Subscribers come one by one: the next callback does not meet this one's reconcile and Ghost update.
    await until(() => discord.member(p.id)?.roles.includes(ROLE.awakened) && ghostNote(p.email)?.includes(p.id), 30_000, `the side effects of link ${i}`, 2);
    // Where the time went, by when the Discord stand-in saw each call of this callback (1 ms resolution).
    const seen = (pattern: RegExp) => discord.requests.slice(from0).find((r) => pattern.test(`${r.method} ${r.path}`))?.at;
    const token = seen(/^POST .*\/oauth2\/token$/);
    const user = seen(/^GET .*\/users\/@me$/);
    const join = seen(new RegExp(`^PUT .*/guilds/\\d+/members/${p.id}$`));
    if (token !== undefined && user !== undefined && join !== undefined) {
      phases.beforeExchange.push(token - started);
      phases.exchangeToUser.push(user - token);
      phases.userToJoin.push(join - user);
      phases.joinToAnswer.push(ended - join);
    }
  }
  return {
    links: LINKS,
    callbackMs: percentiles(callbackMs),
    cpuMsPerCallback: { arbiter: (cpu.arbiter * 1000) / LINKS, standInsAndClient: (cpu.here * 1000) / LINKS },
    phasesMs: Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, v.length > 0 ? percentiles(v) : null])),
    outcomes,
  };
}

const where = machine();
const dir = tempDir('arbiter-bench-latency-');
const standIns = await startStandIns([
  { id: ROLE.booster, name: 'Server Booster' },
  { id: ROLE.awakened, name: 'Awakened' },
  { id: ROLE.ascended, name: 'Ascended' },
]);
const { discord, ghost, smtp } = standIns;

// The linked members of (a), one group per mode, in Discord and in Arbiter's database before it starts.
const groups = MODES.map(() => Array.from({ length: UPGRADES }, () => String(++nextId)));
const db = openDatabase(join(dir.path, 'data', 'arbiter.db'));
const subscriptions = createSubscriptionStore(db);
const seededAt = new Date(Date.now() - 3_600_000).toISOString();
db.transaction(() => {
  for (const id of groups.flat()) {
    discord.addUser({ id, username: `member${id}` });
    discord.memberJoins(id, [ROLE.awakened]);
    subscriptions.save({ subscription_id: `sub_${id}`, email: `${id}@example.com`, name: '', tier: 'awakened', status: 'active', last_event_at: seededAt, updated_at: seededAt });
    subscriptions.link(`sub_${id}`, id, seededAt);
  }
})();
db.close();

const arbiter = await startArbiter({ dir: dir.path, entry: 'tsx', standIns, tiers: WORLD_TIERS, env: { RECONCILE_INTERVAL_MINUTES: '0' } });
const upgradeResults = [];
let linkResult: Awaited<ReturnType<typeof linkFlows>> | undefined;
try {
  // The gateway is up and the permission check is done.
  const health = async () => (await (await fetch(`${arbiter.url}/health`)).json()) as { discord: string; details?: { discord?: { checkedAt?: string | null } } };
  await until(() => health().then((h) => h.discord === 'ok' && h.details?.discord?.checkedAt, () => false), 60_000, 'Arbiter to report Discord ready', 100);
  for (const [i, mode] of MODES.entries()) {
    console.error(`upgrades, ${typeof mode === 'number' ? `${mode} at once` : mode} ...`);
    upgradeResults.push(await upgrades(arbiter.url, discord, groups[i]!, mode));
  }
  if (LINKS > 0) console.error('link flows ...');
  if (LINKS > 0) linkResult = await linkFlows(arbiter.url, discord, smtp, ghost, () => arbiter.cpuSeconds());
} finally {
  await arbiter.stop();
  await standIns.close();
  dir.remove();
}

const loadAtEnd = loadNow();
const probe = commitProbe();
const ms = (p: Percentiles) => [p.p50, p.p95, p.p99, p.max].map((v) => v.toFixed(1));
console.log(`Latency with the stand-ins answering at once (${describeMachine(where, loadAtEnd)}; one SQLite commit p50 ${probe.p50.toFixed(2)} ms, p99 ${probe.p99.toFixed(2)} ms)\n`);
console.log(`(a) webhook 200 -> role change recorded by the Discord stand-in, ms (target p99 < ${TARGET.roleChangeP99Ms})\n`);
console.log(table(['sent', 'n', 'p50', 'p95', 'p99', 'max', 'target met', 'floor p50 / p99', 'upgrades/s', 'webhook answer p50 / p99'],
  upgradeResults.map((r) => [typeof r.mode === 'number' ? `${r.mode} at once` : r.mode, r.upgrades, ...ms(r.roleChangeMs),
    r.roleChangeMs.p99 < TARGET.roleChangeP99Ms ? 'yes' : 'no', `${r.globalFloorMs.p50.toFixed(0)} / ${r.globalFloorMs.p99.toFixed(0)}`,
    r.throughput.toFixed(1), `${r.answerMs.p50.toFixed(1)} / ${r.answerMs.p99.toFixed(1)}`])));
console.log('floor: the least latency Discord\'s global limit (50 requests/s, two per upgrade) allows for the same arrivals');
if (linkResult) {
  console.log(`\n(b) GET /auth/callback of a link flow, one at a time, ms (target p99 <= ${TARGET.callbackP99Ms})\n`);
  console.log(table(['n', 'p50', 'p95', 'p99', 'max', 'target met'],
    [[linkResult.links, ...ms(linkResult.callbackMs), linkResult.callbackMs.p99 <= TARGET.callbackP99Ms ? 'yes' : 'no']]));
  console.log(`\ncallback answers: ${JSON.stringify(linkResult.outcomes)}`);
  console.log(`CPU used while a callback was under way, mean per callback: Arbiter ${linkResult.cpuMsPerCallback.arbiter.toFixed(1)} ms, stand-ins and client ${linkResult.cpuMsPerCallback.standInsAndClient.toFixed(1)} ms`);
  console.log('callback phases, ms, from when the Discord stand-in saw each call:');
  for (const [phase, p] of Object.entries(linkResult.phasesMs)) if (p) console.log(`  ${phase}: p50 ${p.p50} p95 ${p.p95} p99 ${p.p99} max ${p.max}`);
}
// A run with other sizes than the defaults goes to a file of its own: bench/results/latency.json keeps the default run.
const sized = ['BENCH_LATENCY_UPGRADES', 'BENCH_LATENCY_MODES', 'BENCH_LATENCY_LINKS'].some((name) => process.env[name] !== undefined);
console.log(`\n${writeResults(sized ? 'latency-sized' : 'latency', { machine: where, loadAtEnd, commitMs: probe, target: TARGET, upgrades: upgradeResults, linkCallback: linkResult ?? null })}`);
