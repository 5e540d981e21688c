/**
 * What a started Arbiter costs: the time from spawning the process to the first 200 from /health, its resident
 * memory after 10 s idle, at the peak of an ingest burst and idle again after it, for the production build
 * (node dist/main.js, after npm run build) and for node --import tsx src/main.ts. Production mode, with the
 * stand-ins for Discord, Ghost and SMTP in this process; memory from /proc/<pid>/status (VmRSS, and VmHWM, the
 * highest VmRSS the process ever had). Then the load time of the biggest dependencies, each imported alone in a
 * fresh process, to show where start-up time goes.
 * Run: npm run bench:footprint (it runs npm run build first; BENCH_FOOTPRINT_NO_BUILD=1 skips that).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { tempDir } from '../test/support/config.js';
import { parseSamples } from '../test/support/prometheus.js';
import { ROLE, WORLD_TIERS } from '../test/support/world.js';
import { ingest, memoryOf, startArbiter, startStandIns, type Entry, type IngestResult, type Memory, type StandIns } from './parts/arbiter-process.js';
import { ROOT } from './parts/processes.js';
import { loadNow, machine, median, writeResults } from './parts/report.js';

const STARTS = Number(process.env.BENCH_FOOTPRINT_STARTS ?? 5);
const IDLE_MS = 10_000;
const BURST = Number(process.env.BENCH_FOOTPRINT_BURST ?? 2000);
const BURST_CONCURRENCY = 32;
const TARGET = { idleMb: 120, healthyMs: 1500 };
/** The dependencies src/ imports at start, biggest first as far as we know; each is timed alone. */
const MODULES = ['discord.js', 'express', 'better-sqlite3', 'nodemailer', '@tryghost/admin-api', 'zod', 'pino', 'prom-client', 'preact-render-to-string', 'express-session', 'connect-sqlite3', 'express-rate-limit'];

/** V8's view of the idle process, from the default metrics on /metrics, MB. */
interface Heap {
  heapUsed: number;
  heapTotal: number;
  external: number;
  /** Of the heap: compiled code and bytecode. */
  code: number;
}

interface EntryResult {
  entry: Entry;
  healthyMs: number[];
  idle: Memory;
  heap: Heap;
  burst: { ingest: Omit<IngestResult, 'latencies'>; peakRssMb: number; hwmMb: number };
  idleAfter: Memory;
  load: string[];
}

async function heapOf(url: string): Promise<Heap> {
  const samples = parseSamples(await (await fetch(`${url}/metrics`)).text());
  const mb = (name: string, space?: string) =>
    samples.filter((s) => s.name === name && (space === undefined || s.labels.space === space)).reduce((n, s) => n + s.value, 0) / 1e6;
  return {
    heapUsed: mb('nodejs_heap_size_used_bytes'),
    heapTotal: mb('nodejs_heap_size_total_bytes'),
    external: mb('nodejs_external_memory_bytes'),
    code: mb('nodejs_heap_space_size_used_bytes', 'code') + mb('nodejs_heap_space_size_used_bytes', 'code_large_object'),
  };
}

/** Highest VmRSS seen while `work` runs, sampled every 20 ms. */
async function peakDuring<T>(pid: number, work: () => Promise<T>): Promise<{ value: T; peakRssMb: number }> {
  let peak = memoryOf(pid).rssMb;
  const timer = setInterval(() => (peak = Math.max(peak, memoryOf(pid).rssMb)), 20);
  try {
    const value = await work();
    return { value, peakRssMb: Math.max(peak, memoryOf(pid).rssMb) };
  } finally {
    clearInterval(timer);
  }
}

async function measure(entry: Entry, standIns: StandIns): Promise<EntryResult> {
  const dir = tempDir(`arbiter-bench-footprint-${entry}-`);
  const load = [loadNow().join(' ')];
  const healthyMs: number[] = [];
  try {
    // The first start makes the database; the others find it, as every restart does.
    for (let i = 0; i < STARTS - 1; i++) {
      const arbiter = await startArbiter({ dir: dir.path, standIns, tiers: WORLD_TIERS, entry });
      healthyMs.push(arbiter.healthyMs);
      await arbiter.stop();
    }
    const arbiter = await startArbiter({ dir: dir.path, standIns, tiers: WORLD_TIERS, entry });
    healthyMs.push(arbiter.healthyMs);
    console.log(`${entry}: start to healthy ${healthyMs.map((ms) => ms.toFixed(0)).join(', ')} ms`);
    try {
      await sleep(IDLE_MS);
      const idle = arbiter.memory();
      const heap = await heapOf(arbiter.url);
      console.log(`${entry}: idle after ${IDLE_MS / 1000} s: RSS ${idle.rssMb.toFixed(1)} MB (highest so far ${idle.hwmMb.toFixed(1)} MB); V8 heap ${heap.heapUsed.toFixed(1)} of ${heap.heapTotal.toFixed(1)} MB, external ${heap.external.toFixed(1)} MB`);
      load.push(loadNow().join(' '));
      const run = Date.now().toString(36);
      const burst = await peakDuring(arbiter.pid, async () => {
        const result = await ingest(arbiter.url, BURST, BURST_CONCURRENCY, (i) => ({ subscription_id: `sub_${run}_${i}`, customer_email: `burst.${run}.${i}@example.com` }));
        // The mail for each new subscription goes out after its delivery is answered: part of the burst's memory.
        await standIns.smtp.waitFor(BURST, 300_000);
        return result;
      });
      const after = arbiter.memory();
      console.log(`${entry}: burst of ${BURST} deliveries at ${BURST_CONCURRENCY} connections (${burst.value.perSecond.toFixed(0)}/s): peak RSS ${burst.peakRssMb.toFixed(1)} MB, VmHWM ${after.hwmMb.toFixed(1)} MB`);
      await sleep(IDLE_MS);
      const idleAfter = arbiter.memory();
      load.push(loadNow().join(' '));
      console.log(`${entry}: idle ${IDLE_MS / 1000} s after the burst: RSS ${idleAfter.rssMb.toFixed(1)} MB`);
      standIns.smtp.messages.length = 0;
      const { latencies: _all, ...ingested } = burst.value;
      return { entry, healthyMs, idle, heap, burst: { ingest: ingested, peakRssMb: burst.peakRssMb, hwmMb: after.hwmMb }, idleAfter, load };
    } finally {
      await arbiter.stop();
    }
  } finally {
    dir.remove();
  }
}

/** Milliseconds for `node <args>` to start, run and exit, median of 3, each in a fresh process. */
function nodeMs(args: string[]): number {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const result = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${result.stderr}`);
    times.push(performance.now() - t0);
  }
  return median(times);
}

/**
 * Time to import one module in a fresh process, measured inside it (node's own start excluded), median of 3; and
 * the process's RSS after it, less that of a process that imported nothing.
 */
function importCost(specifier: string | null): { ms: number; rssMb: number } {
  const code = `const t0 = performance.now(); ${specifier ? `await import(${JSON.stringify(specifier)});` : ''} console.log(performance.now() - t0, process.memoryUsage().rss);`;
  const runs: { ms: number; rssMb: number }[] = [];
  for (let i = 0; i < 3; i++) {
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`importing ${specifier} failed: ${result.stderr}`);
    const [ms, rss] = result.stdout.trim().split(' ').map(Number) as [number, number];
    runs.push({ ms, rssMb: rss / 1024 / 1024 });
  }
  return { ms: median(runs.map((r) => r.ms)), rssMb: median(runs.map((r) => r.rssMb)) };
}

/**
 * Where a start's CPU time goes, by package: one start of dist/main.js under --cpu-prof, stopped as soon as it is
 * healthy. Each sample counts for the innermost frame of the stack that is a package's code or Arbiter's own: the
 * loading and compiling Node does for an import is charged to the code that imported.
 */
async function startProfile(standIns: StandIns): Promise<{ healthyMs: number; byPackage: [string, number][] }> {
  const dir = tempDir('arbiter-bench-footprint-prof-');
  try {
    const profiles = join(dir.path, 'profiles');
    const arbiter = await startArbiter({ dir: dir.path, standIns, tiers: WORLD_TIERS, entry: 'dist', nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profiles] });
    await arbiter.stop();
    const file = readdirSync(profiles).find((f) => f.endsWith('.cpuprofile'))!;
    const profile = JSON.parse(readFileSync(join(profiles, file), 'utf8')) as {
      nodes: { id: number; callFrame: { url: string; functionName: string }; children?: number[] }[];
      samples: number[];
      timeDeltas: number[];
    };
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
    const ownerOf = (id: number): string => {
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const url = nodes.get(at)!.callFrame.url;
        const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? (url.includes('/dist/') ? 'arbiter (dist/)' : null);
        if (pkg) return pkg;
      }
      const own = nodes.get(id)!.callFrame;
      return own.url ? 'node, before any module ran' : own.functionName;
    };
    const byPackage = new Map<string, number>();
    // Only the samples up to the moment it answered: what the start itself cost.
    let at = 0;
    profile.samples.forEach((id, i) => {
      at += profile.timeDeltas[i] ?? 0;
      if (at / 1000 > arbiter.healthyMs) return;
      const pkg = ownerOf(id);
      byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
    });
    return { healthyMs: arbiter.healthyMs, byPackage: [...byPackage].sort((a, b) => b[1] - a[1]) };
  } finally {
    dir.remove();
  }
}

// ---------------------------------------------------------------------------------------------------------------

const host = machine();
console.log(`Footprint benchmark: ${host.nproc} CPUs (${host.cpu}), ${host.ramGiB} GiB, Node ${host.node}, load ${host.load.join(' ')}`);
if (!process.env.BENCH_FOOTPRINT_NO_BUILD) {
  console.log('npm run build...');
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}
const standIns = await startStandIns([
  { id: ROLE.awakened, name: 'Awakened' },
  { id: ROLE.ascended, name: 'Ascended' },
]);
const results: EntryResult[] = [];
let profile: Awaited<ReturnType<typeof startProfile>>;
try {
  for (const entry of ['dist', 'tsx'] as const) results.push(await measure(entry, standIns));
  profile = await startProfile(standIns);
} finally {
  await standIns.close();
}

const bareNode = nodeMs(['-e', '0']);
const nothing = importCost(null);
const imports = Object.fromEntries(
  [...MODULES.map((m) => [m, m] as const), ['dist/server.js (all of Arbiter, no listen)', './dist/server.js'] as const].map(([name, spec]) => {
    const cost = importCost(spec);
    return [name, { ms: cost.ms, rssMb: cost.rssMb - nothing.rssMb }];
  }),
);

console.log('\n| | dist/main.js | tsx src/main.ts | target |\n| --- | --- | --- | --- |');
const [dist, tsx] = results as [EntryResult, EntryResult];
const both = (f: (r: EntryResult) => string) => `${f(dist)} | ${f(tsx)}`;
console.log(`| start to first 200 from /health, median of ${STARTS}, ms | ${both((r) => median(r.healthyMs).toFixed(0))} | <= ${TARGET.healthyMs} |`);
console.log(`| start to healthy, each start, ms | ${both((r) => r.healthyMs.map((ms) => ms.toFixed(0)).join(', '))} | |`);
console.log(`| RSS after ${IDLE_MS / 1000} s idle, MB | ${both((r) => r.idle.rssMb.toFixed(1))} | <= ${TARGET.idleMb} |`);
console.log(`| peak RSS in a burst of ${BURST} deliveries at ${BURST_CONCURRENCY} connections, MB | ${both((r) => r.burst.peakRssMb.toFixed(1))} | |`);
console.log(`| VmHWM after the burst, MB | ${both((r) => r.burst.hwmMb.toFixed(1))} | |`);
console.log(`| burst, deliveries/s | ${both((r) => r.burst.ingest.perSecond.toFixed(0))} | |`);
console.log(`| RSS ${IDLE_MS / 1000} s after the burst, MB | ${both((r) => r.idleAfter.rssMb.toFixed(1))} | |`);
console.log(`| load average during (1, 5, 15 min) | ${both((r) => r.load.join(' / '))} | |`);
console.log(`| V8 heap used / total at idle, MB | ${both((r) => `${r.heap.heapUsed.toFixed(1)} / ${r.heap.heapTotal.toFixed(1)}`)} | |`);
console.log(`| of which code and bytecode; external memory, MB | ${both((r) => `${r.heap.code.toFixed(1)}; ${r.heap.external.toFixed(1)}`)} | |`);
console.log(`\nnode -e 0 (Node's own start, a measure of how busy the machine is): ${bareNode.toFixed(0)} ms; RSS of a node that imported nothing: ${nothing.rssMb.toFixed(1)} MB`);
console.log('\n| import, alone in a fresh process | ms | RSS added, MB |\n| --- | --- | --- |');
for (const [name, cost] of Object.entries(imports).sort((a, b) => b[1].ms - a[1].ms)) console.log(`| ${name} | ${cost.ms.toFixed(0)} | ${cost.rssMb.toFixed(1)} |`);
const profiled = profile!.byPackage.reduce((n, [, ms]) => n + ms, 0);
console.log(`\nCPU time of one start of dist/main.js up to its first healthy answer (${profile!.healthyMs.toFixed(0)} ms; ${profiled.toFixed(0)} ms sampled), by package:\n`);
console.log('| package | ms | share |\n| --- | --- | --- |');
for (const [pkg, ms] of profile!.byPackage.slice(0, 12)) console.log(`| ${pkg} | ${ms.toFixed(0)} | ${((100 * ms) / profiled).toFixed(0)}% |`);

const verdict = {
  healthy: median(dist.healthyMs) <= TARGET.healthyMs,
  idle: dist.idle.rssMb <= TARGET.idleMb,
};
console.log(`\ntargets (dist): start to healthy ${verdict.healthy ? 'met' : 'MISSED'}; idle RSS ${verdict.idle ? 'met' : 'MISSED'}`);

const file = writeResults('footprint', { machine: host, target: TARGET, results, bareNodeMs: bareNode, bareNodeRssMb: nothing.rssMb, imports, startProfile: profile!, verdict });
console.log(`written: ${relative(ROOT, file)}`);
