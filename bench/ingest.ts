/**
 * Webhook ingest: signed `subscription.created` webhooks through Arbiter's whole endpoint (signature, validation,
 * the commit at synchronous=FULL, the link email job enqueued) against a bare Express 5 JSON route and a bare
 * node:http route. Each server runs in its own process, started the same way; the load comes from autocannon in its
 * own process, the same for all three, with every request signed and unique. Arbiter's worker sends the link emails
 * meanwhile, to the SMTP stand-in in a process of its own.
 *
 * Run: npm run bench:ingest
 * Environment: BENCH_DURATION (s, 10), BENCH_WARMUP (s, 2), BENCH_CONNECTIONS (32), BENCH_POOL (signed deliveries
 * made before the clock starts; default enough for 12,500 requests/s), BENCH_PROFILE (auto: when the target is
 * missed, profile Arbiter and bare Express in one more run each; 1: always; 0: never).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tempDir } from '../test/support/config.js';
import { arbiterCounts, startArbiter, WEBHOOK_SECRET, type ArbiterCounts } from './parts/arbiter.js';
import { formatProfile, profileIn, summariseProfile, type ProfileSummary } from './parts/cpuprofile.js';
import type { LoadPhase, LoadPlan, LoadResult } from './parts/load.js';
import { cpuSeconds, path, startHelper, startServerChild, type HelperChild, type ServerChild } from './parts/processes.js';
import { envChoice, envNumber, fixed, machine, table, uptime, writeResults } from './parts/report.js';

const DURATION = envNumber('BENCH_DURATION', 10, 1);
const WARMUP = envNumber('BENCH_WARMUP', 2, 0);
const CONNECTIONS = envNumber('BENCH_CONNECTIONS', 32, 1);
const POOL = envNumber('BENCH_POOL', Math.ceil((DURATION + WARMUP) * 12_500), 1);
const PROFILE = envChoice('BENCH_PROFILE', ['auto', '1', '0'], 'auto');
const TARGET = 0.6;

interface Target {
  name: string;
  /** A bare server's entry; Arbiter's is src/main.ts. */
  entry?: string;
}
const TARGETS: Target[] = [
  { name: 'Arbiter' },
  { name: 'bare Express 5', entry: path('bench/parts/bare-express.ts') },
  { name: 'bare node:http', entry: path('bench/parts/bare-http.ts') },
];

interface Measurement {
  name: string;
  measured: LoadPhase;
  warmup: LoadPhase | null;
  signedLive: number;
  /** CPU used during the measured window, as a share of one core. */
  serverCpu: number | null;
  loadCpu: number | null;
  /** Arbiter only: what its database holds afterwards. */
  database?: ArbiterCounts;
  uptime: string;
  profile?: ProfileSummary;
}

async function measure(target: Target, tag: string, profile = false): Promise<Measurement> {
  const dir = tempDir('arbiter-bench-ingest-');
  const profileDir = profile ? mkdtempSync(join(tmpdir(), 'arbiter-bench-profile-')) : undefined;
  let smtp: HelperChild | undefined;
  let server: ServerChild | undefined;
  let load: HelperChild | undefined;
  try {
    if (target.entry) {
      server = await startServerChild({ name: target.name, entry: target.entry, env: { NODE_ENV: 'test' }, logFile: join(dir.path, 'server.log'), cpuProfDir: profileDir });
    } else {
      smtp = startHelper(path('bench/parts/smtp-sink.ts'));
      server = await startArbiter(dir.path, await smtp.remote.call<number>('port'), { cpuProfDir: profileDir });
    }
    const running = server;
    const loader = (load = startHelper(path('bench/parts/load.ts')));
    const cpu = { server: [0, 0], load: [0, 0] };
    loader.remote.on('measuring', () => {
      cpu.server[0] = cpuSeconds(running.pid) ?? NaN;
      cpu.load[0] = cpuSeconds(loader.process.pid) ?? NaN;
    });
    loader.remote.on('measured', () => {
      cpu.server[1] = cpuSeconds(running.pid) ?? NaN;
      cpu.load[1] = cpuSeconds(loader.process.pid) ?? NaN;
    });
    const plan: LoadPlan = { url: server.url, connections: CONNECTIONS, warmupSeconds: WARMUP, durationSeconds: DURATION, pool: POOL, secret: WEBHOOK_SECRET, tag };
    const result = await loader.remote.call<LoadResult>('run', plan);
    const now = uptime();
    await server.stop();
    const share = ([a, b]: number[]) => (Number.isFinite(a) && Number.isFinite(b) ? (b! - a!) / result.measured.seconds : null);
    return {
      name: target.name,
      measured: result.measured,
      warmup: result.warmup,
      signedLive: result.signedLive,
      serverCpu: share(cpu.server),
      loadCpu: share(cpu.load),
      ...(target.entry ? {} : { database: arbiterCounts(dir.path) }),
      uptime: now,
      ...(profileDir ? { profile: profileOf(profileDir, result.measured) } : {}),
    };
  } catch (err) {
    if (server) process.stderr.write(`${server.name} said:\n${server.stderr()}\n`);
    throw err;
  } finally {
    await load?.stop();
    await server?.stop();
    await smtp?.stop();
    dir.remove();
  }
}

/** The server's profile during the measured window, per request answered in it. */
function profileOf(dir: string, phase: LoadPhase): ProfileSummary {
  const answered = Object.values(phase.statusCodes).reduce((a, b) => a + b, 0);
  return summariseProfile(profileIn(dir), { top: 20, window: [phase.startedMonoUs, phase.endedMonoUs], items: { count: answered, what: 'request' } });
}

/** CPU time the server used per request answered in the measured window: less bent by a busy machine than requests/s. */
const cpuPerRequestMs = (r: Measurement) => (r.serverCpu === null ? null : (r.serverCpu * 1000) / r.measured.requestsPerSecond);

const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(0)} %`);

function report(results: Measurement[]): string {
  return table(
    ['server', 'requests/s', 'p50 ms', 'p99 ms', '200 accepted', 'non-2xx', 'other answers', 'socket errors', 'server CPU', 'server CPU ms/request', 'autocannon CPU'],
    results.map((r) => {
      const m = r.measured;
      const other = Object.values(m.other).reduce((a, b) => a + b, 0);
      return [r.name, fixed(m.requestsPerSecond), fixed(m.latencyMs.p50), fixed(m.latencyMs.p99), m.accepted, m.non2xx, other, m.errors, pct(r.serverCpu), fixed(cpuPerRequestMs(r), 2), pct(r.loadCpu)];
    }),
  );
}

const started = new Date();
const host = machine();
const before = uptime();
console.log(`Webhook ingest: ${CONNECTIONS} connections, ${WARMUP} s warm-up then ${DURATION} s measured, each server in its own process`);
console.log(`${host.nproc} CPUs (${host.cpu}), ${host.ramGiB} GiB, Node ${host.node}; before: ${before}\n`);

const runTag = `i${started.getTime().toString(36)}`;
const results: Measurement[] = [];
for (const [i, target] of TARGETS.entries()) {
  results.push(await measure(target, `${runTag}${i}`));
  console.log(`${target.name}: ${fixed(results.at(-1)!.measured.requestsPerSecond)} requests/s`);
}
const [arbiter, express, http] = results as [Measurement, Measurement, Measurement];
const ratios = {
  arbiterToExpress: arbiter.measured.requestsPerSecond / express.measured.requestsPerSecond,
  arbiterToNodeHttp: arbiter.measured.requestsPerSecond / http.measured.requestsPerSecond,
  /** Bare Express's CPU per request over Arbiter's: the throughput ratio a machine with a core to spare for each would show. */
  cpuPerRequestExpressToArbiter: (cpuPerRequestMs(express) ?? NaN) / (cpuPerRequestMs(arbiter) ?? NaN),
};
const met = ratios.arbiterToExpress >= TARGET;

console.log(`\n${report(results)}\n`);
console.log(`Arbiter / bare Express: ${ratios.arbiterToExpress.toFixed(2)} (target at least ${TARGET}: ${met ? 'met' : 'missed'})`);
console.log(`Arbiter / bare node:http: ${ratios.arbiterToNodeHttp.toFixed(2)}`);
console.log(`CPU per request, bare Express / Arbiter: ${ratios.cpuPerRequestExpressToArbiter.toFixed(2)}`);
for (const r of results) {
  for (const [answer, n] of Object.entries(r.measured.other)) console.log(`${r.name} answered ${n} times: ${answer}`);
  if (r.signedLive > 0) console.log(`${r.name}: the pool of ${POOL} ran out; ${r.signedLive} deliveries were signed while sending (raise BENCH_POOL)`);
}
const db = arbiter.database!;
const acceptedInAll = arbiter.measured.accepted + (arbiter.warmup?.accepted ?? 0);
console.log(
  `Arbiter's database afterwards: ${db.webhookEvents} deliveries recorded for ${acceptedInAll} answered 200 accepted (warm-up included;` +
    ` the rest were in flight when the load stopped), ${db.linkEmailed} link emails sent meanwhile, link_email jobs ${JSON.stringify(db.linkEmailJobs)}`,
);
if (db.webhookEvents < acceptedInAll) console.log('LOST: fewer deliveries recorded than answered 200 accepted');

const profiled: Measurement[] = [];
if (PROFILE === '1' || (PROFILE === 'auto' && !met)) {
  console.log('\nProfiles (one more run of Arbiter and of bare Express, each with --cpu-prof, cut to the measured window; slowed by the profiler, not counted):');
  for (const [i, target] of TARGETS.slice(0, 2).entries()) {
    const run = await measure(target, `${runTag}p${i}`, true);
    profiled.push(run);
    console.log(`\n${target.name}: ${fixed(run.measured.requestsPerSecond)} requests/s while profiled, server CPU ${pct(run.serverCpu)}`);
    console.log(formatProfile(run.profile!));
  }
}

const after = uptime();
console.log(`\nafter: ${after}`);
const file = writeResults('ingest', {
  benchmark: 'webhook ingest',
  date: started.toISOString(),
  machine: host,
  uptime: { before, after },
  settings: { connections: CONNECTIONS, warmupSeconds: WARMUP, durationSeconds: DURATION, pool: POOL, mail: 'SMTP stand-in (stand-ins/smtp.ts) in its own process' },
  results,
  ratios,
  target: { arbiterToExpressAtLeast: TARGET, met },
  ...(profiled.length ? { profiled } : {}),
});
console.log(`results written to ${file}`);
