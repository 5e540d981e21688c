/**
 * What the Discord benchmarks share: the machine they ran on, percentiles, and writing results beside the benches.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

export interface Machine {
  cores: number;
  cpu: string;
  ramGiB: number;
  node: string;
  /** The 1, 5 and 15 minute load averages, as `uptime` shows them. */
  load: number[];
  date: string;
}

export function machine(): Machine {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpu;
  } catch {
    // not Linux: the model Node reports
  }
  return {
    cores: cpus().length,
    cpu,
    ramGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    load: loadNow(),
    date: new Date().toISOString(),
  };
}

export function loadNow(): number[] {
  return loadavg().map((l) => Math.round(l * 100) / 100);
}

/**
 * What one SQLite commit costs on this disk right now (WAL, synchronous=FULL, as Arbiter runs): on a shared machine
 * this moves with everyone else's work, and every job and webhook pays it.
 */
export function commitProbe(commits = 200): Percentiles {
  const dir = mkdtempSync(join(tmpdir(), 'arbiter-bench-probe-'));
  try {
    const db = new Database(join(dir, 'probe.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE t (x)');
    const insert = db.prepare('INSERT INTO t VALUES (?)');
    const times: number[] = [];
    for (let i = 0; i < commits; i++) {
      const t0 = performance.now();
      insert.run(i);
      times.push(performance.now() - t0);
    }
    db.close();
    return percentiles(times);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One line: the machine, and the load average (1, 5, 15 min) at the start and at the end of the run. */
export function describeMachine(m: Machine, loadAtEnd: number[]): string {
  return `${m.cores} cores (${m.cpu}), ${m.ramGiB} GiB, Node ${m.node.replace(/^v/, '')}, ${m.date.slice(0, 16).replace('T', ' ')} UTC; load ${m.load.join(' ')} at the start, ${loadAtEnd.join(' ')} at the end`;
}

export interface Percentiles {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles of a list of milliseconds. */
export function percentiles(values: readonly number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) throw new Error('no values');
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  return { n: sorted.length, p50: at(50), p95: at(95), p99: at(99), max: sorted[sorted.length - 1]! };
}

/** Writes bench/results/<name>.json. */
export function writeResults(name: string, results: unknown): string {
  const file = join(dirname(fileURLToPath(import.meta.url)), 'results', `${name}.json`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
}

/** A markdown table. */
export function table(head: string[], rows: (string | number)[][]): string {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function until<T>(probe: () => T | undefined | false, timeoutMs: number, what: string, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');
/** tsx reads tsconfig.json from the working directory; the child runs in a temp directory. */
const TSCONFIG = fileURLToPath(new URL('../tsconfig.json', import.meta.url));

export interface ArbiterProcess {
  url: string;
  pid: number;
  /** User and system CPU time the process has used so far, in seconds (from /proc). */
  cpuSeconds(): number;
  /** SIGTERM, and the graceful stop awaited. */
  stop(): Promise<void>;
}

/**
 * Arbiter as `npm start` runs it: its own process, configured by the environment, its JSON log read line by line
 * (each parsed line goes to `onLine`). Apart from the benchmark, the stand-ins see requests as Discord would: when
 * they arrive, whatever Arbiter's event loop is doing.
 */
export async function startArbiter(env: Record<string, string>, cwd: string, onLine: (line: Record<string, unknown>) => void = () => undefined): Promise<ArbiterProcess> {
  // BENCH_CPU_PROF=<dir>: Arbiter writes a CPU profile there when it stops.
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = spawn(process.execPath, [...profile, '--import', TSX, MAIN], {
    cwd,
    env: { PATH: process.env.PATH ?? '', TSX_TSCONFIG_PATH: TSCONFIG, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { if (stderr.length < 20_000) stderr += chunk.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (text) => {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return;
      }
      if (line.msg === 'Arbiter is listening') resolve(String(line.url));
      onLine(line);
    });
    void exited.then((code) => reject(new Error(`Arbiter exited (${code}) before listening:\n${stderr}`)));
  });
  const pid = child.pid!;
  return {
    url,
    pid,
    cpuSeconds() {
      // Fields 14 and 15 of /proc/<pid>/stat, after the command name in parentheses; 100 ticks a second on Linux.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
