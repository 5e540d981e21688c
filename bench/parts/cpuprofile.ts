/**
 * Reads a V8 .cpuprofile (from node --cpu-prof) and sums self time: per function, and per area (our source by
 * folder, each package, Node's internals, garbage collection, idle). Self time spent in a native call (a SQLite
 * commit waiting for its fsync, a write to a socket) is counted to the JavaScript function that made it.
 * The benchmarks call it; on its own: npx tsx bench/parts/cpuprofile.ts <profile or directory> [top]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './processes.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileLine {
  name: string;
  where: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  /** Share of the profile the main thread was idle (waiting in the event loop). */
  idleShare: number;
  functions: ProfileLine[];
  areas: ProfileLine[];
}

function area(url: string, name: string): string {
  if (url === '') return name.startsWith('(') ? name : '(native)';
  const path = url.replace(/^file:\/\//, '');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) return pkg[1]!;
  if (path.startsWith('node:')) return 'node internals';
  if (path.startsWith(ROOT)) {
    const rel = path.slice(ROOT.length);
    const parts = rel.split('/');
    return parts.length > 2 ? `${parts[0]}/${parts[1]}/` : rel;
  }
  return path;
}

function where(url: string, line: number): string {
  if (url === '') return '';
  const path = url.replace(/^file:\/\//, '');
  const short = path.startsWith(ROOT) ? path.slice(ROOT.length) : path;
  return `${short.replace(/^.*node_modules\//, '')}:${line + 1}`;
}

export function summariseProfile(file: string, top = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  // timeDeltas[i] is the time before sample i; the time after a sample belongs to it.
  for (let i = 0; i < profile.samples.length; i++) {
    const us = profile.timeDeltas[i + 1] ?? 0;
    self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + us);
  }
  const totalUs = [...self.values()].reduce((a, b) => a + b, 0);
  const functions = new Map<string, { name: string; where: string; us: number }>();
  const areas = new Map<string, number>();
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const name = functionName || '(anonymous)';
    const key = `${name} ${url}:${lineNumber}`;
    const f = functions.get(key) ?? { name, where: where(url, lineNumber), us: 0 };
    f.us += us;
    functions.set(key, f);
    const a = area(url, name);
    areas.set(a, (areas.get(a) ?? 0) + us);
  }
  const line = (name: string, at: string, us: number): ProfileLine => ({ name, where: at, ms: us / 1000, share: us / totalUs });
  return {
    file,
    totalMs: totalUs / 1000,
    idleShare: (areas.get('(idle)') ?? 0) / totalUs,
    functions: [...functions.values()].sort((a, b) => b.us - a.us).slice(0, top).map((f) => line(f.name, f.where, f.us)),
    areas: [...areas.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => line(name, '', us)),
  };
}

/**
 * The main thread's profile among those a child wrote into `dir`: node names them CPU.<date>.<time>.<pid>.<thread>.<n>,
 * and tsx's module loader runs on a thread of its own (thread 1), which --cpu-prof profiles too.
 */
export function profileIn(dir: string): string {
  const main = readdirSync(dir).filter((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f));
  if (main.length !== 1) throw new Error(`expected one main-thread .cpuprofile in ${dir}, found ${main.length}`);
  return join(dir, main[0]!);
}

export function formatProfile(summary: ProfileSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const rows = (lines: ProfileLine[], withWhere: boolean) =>
    lines.map((l) => `| ${l.name} |${withWhere ? ` ${l.where} |` : ''} ${l.ms.toFixed(0)} | ${pct(l.share)} |`).join('\n');
  return [
    `profile ${summary.file}: ${(summary.totalMs / 1000).toFixed(1)} s sampled, idle ${pct(summary.idleShare)}`,
    '',
    '| function (self time) | where | ms | share |',
    '| --- | --- | --- | --- |',
    rows(summary.functions, true),
    '',
    '| area (self time) | ms | share |',
    '| --- | --- | --- |',
    rows(summary.areas, false),
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [target, top] = process.argv.slice(2);
  if (!target) throw new Error('usage: npx tsx bench/parts/cpuprofile.ts <profile or directory> [top]');
  console.log(formatProfile(summariseProfile(statSync(target).isDirectory() ? profileIn(target) : target, Number(top ?? 15))));
}
