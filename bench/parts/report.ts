/** What every benchmark reports besides its figures: the machine, the load it ran under, a table, the JSON file. */
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { path } from './processes.js';

export interface Machine {
  nproc: number;
  cpu: string;
  ramGiB: number;
  node: string;
  date: string;
  /** The 1, 5 and 15 minute load averages when the benchmark started, as `uptime` shows them. */
  load: number[];
}

export function machine(): Machine {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpu;
  } catch {
    // not Linux: os.cpus() has it
  }
  let nproc = cpus().length;
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim());
  } catch {
    // no coreutils: os.cpus() counts the same
  }
  return { nproc, cpu, ramGiB: Math.round(totalmem() / 2 ** 30), node: process.version, date: new Date().toISOString(), load: loadNow() };
}

export function loadNow(): number[] {
  return loadavg().map((l) => Math.round(l * 100) / 100);
}

/** One line: the machine, and the load average (1, 5, 15 min) at the start and at the end of the run. */
export function describeMachine(m: Machine, loadAtEnd: number[]): string {
  return `${m.nproc} cores (${m.cpu}), ${m.ramGiB} GiB, Node ${m.node.replace(/^v/, '')}, ${m.date.slice(0, 16).replace('T', ' ')} UTC; load ${m.load.join(' ')} at the start, ${loadAtEnd.join(' ')} at the end`;
}

/** `uptime`'s line: the load averages the benchmark ran under. */
export function uptime(): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return 'uptime unavailable';
  }
}

export function table(header: string[], rows: (string | number)[][]): string {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** Writes bench/results/<name>.json and returns its path. */
export function writeResults(name: string, data: unknown): string {
  const dir = path('bench/results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

/** A number from the environment, with a default; anything else stops the benchmark with the variable's name. */
export function envNumber(name: string, fallback: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number of at least ${min}, not "${raw}"`);
  return value;
}

/** One of `choices` from the environment, with a default; anything else stops the benchmark with the variable's name. */
export function envChoice<T extends string>(name: string, choices: readonly T[], fallback: T): T {
  const value = process.env[name] ?? fallback;
  if (!(choices as readonly string[]).includes(value)) throw new Error(`${name} must be ${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}, not "${value}"`);
  return value as T;
}

export const fixed = (x: number | null | undefined, digits = 0) => (x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits));

export interface Percentiles {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest rank: the smallest value with at least p % of the values at or below it. `sorted` is ascending. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new Error('no values');
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function percentiles(values: readonly number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99), max: percentile(sorted, 100) };
}

export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
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
