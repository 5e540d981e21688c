/**
 * Reads a V8 .cpuprofile (from node --cpu-prof) and sums self time: per function, and per area (our source by
 * folder, each package, each part of Node). Time in a native function (a SQLite commit waiting for its fsync, a
 * write to a file or socket) counts to the function that called it, and to the area of the nearest caller written
 * in JavaScript. The profile can be cut to a window on the monotonic clock (see time.ts: monoUs), and costs given
 * per item (request, email) handled in it.
 * The benchmarks call it; on its own: npx tsx bench/parts/cpuprofile.ts <profile or directory> [top]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './processes.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
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
  /** Self time per item handled in the window, when the number of items is known. */
  usPerItem?: number;
  /** The caller that most of this self time came through (anonymous functions are known by it). */
  via?: string;
}

export interface ProfileSummary {
  file: string;
  /** The part of the profile summed, in seconds from its start; the whole profile without a window. */
  window: { fromSeconds: number; toSeconds: number };
  totalMs: number;
  /** Share of the window the main thread was idle (waiting in the event loop). */
  idleShare: number;
  items?: { count: number; what: string };
  functions: ProfileLine[];
  areas: ProfileLine[];
}

export interface SummaryOptions {
  top?: number;
  /** [from, to] in microseconds on the monotonic clock. */
  window?: [number, number] | undefined;
  items?: { count: number; what: string } | undefined;
}

const fileOf = (url: string) => url.replace(/^file:\/\//, '');

function area(url: string): string {
  const path = fileOf(url);
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) return pkg[1]!;
  if (path.startsWith('node:')) {
    const module = path.slice('node:'.length).replace(/^internal\//, '').split('/')[0]!;
    return `node ${module.replace(/^_?http_\w+$/, 'http').replace(/^_stream_\w+$/, 'streams')}`;
  }
  if (path.startsWith(ROOT)) {
    const parts = path.slice(ROOT.length).split('/');
    return parts.length > 2 ? `${parts[0]}/${parts[1]}/` : parts.join('/');
  }
  return path;
}

/** file:line:column as the profile has them: for code tsx compiled, positions in its output, not in the .ts source. */
function where(url: string, line: number, column: number): string {
  if (url === '') return '';
  const path = fileOf(url);
  const short = path.startsWith(ROOT) ? path.slice(ROOT.length) : path;
  return `${short.replace(/^.*node_modules\//, '')}:${line + 1}:${column + 1}`;
}

export function summariseProfile(file: string, options: SummaryOptions = {}): ProfileSummary {
  const { top = 15, window, items } = options;
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, ProfileNode>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n);
  const label = (n: ProfileNode | undefined) => {
    if (!n) return '';
    const { functionName, url, lineNumber, columnNumber } = n.callFrame;
    const at = where(url, lineNumber, columnNumber);
    return `${functionName || '(anonymous)'}${at ? ` ${at}` : ''}`;
  };
  /** The area of a node: its own file's, or for a native function its nearest JavaScript caller's. */
  const areaOf = (n: ProfileNode): string => {
    const { functionName, url } = n.callFrame;
    if (url !== '') return area(url);
    if (functionName.startsWith('(')) return functionName;
    const up = parent.get(n.id);
    return up ? areaOf(up) : '(native)';
  };

  const [from, to] = window ?? [profile.startTime, profile.endTime];
  const self = new Map<number, number>();
  // timeDeltas[i] is the time before sample i; the time after a sample belongs to it.
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (at < from || at > to) continue;
    const us = profile.timeDeltas[i + 1] ?? 0;
    self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + us);
  }
  const totalUs = [...self.values()].reduce((a, b) => a + b, 0);
  const functions = new Map<string, { name: string; where: string; us: number; via: Map<string, number> }>();
  const areas = new Map<string, number>();
  for (const [id, us] of self) {
    const node = byId.get(id)!;
    const { functionName, url, lineNumber, columnNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    const key = `${name} ${url}:${lineNumber}:${columnNumber}`;
    const f = functions.get(key) ?? { name, where: where(url, lineNumber, columnNumber), us: 0, via: new Map<string, number>() };
    f.us += us;
    const caller = label(parent.get(id));
    f.via.set(caller, (f.via.get(caller) ?? 0) + us);
    functions.set(key, f);
    const a = areaOf(node);
    areas.set(a, (areas.get(a) ?? 0) + us);
  }
  const line = (name: string, at: string, us: number, via?: Map<string, number>): ProfileLine => {
    const top = via && [...via.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
    return { name, where: at, ms: us / 1000, share: us / totalUs, ...(items ? { usPerItem: us / items.count } : {}), ...(top ? { via: top } : {}) };
  };
  return {
    file,
    window: { fromSeconds: (from - profile.startTime) / 1e6, toSeconds: (to - profile.startTime) / 1e6 },
    totalMs: totalUs / 1000,
    idleShare: (areas.get('(idle)') ?? 0) / totalUs,
    ...(items ? { items } : {}),
    functions: [...functions.values()].sort((a, b) => b.us - a.us).slice(0, top).map((f) => line(f.name, f.where, f.us, f.via)),
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
  const per = summary.items ? `µs per ${summary.items.what}` : '';
  const cells = (l: ProfileLine) => `${l.ms.toFixed(0)} | ${pct(l.share)} |${summary.items ? ` ${l.usPerItem!.toFixed(0)} |` : ''}`;
  const head = (first: string[]) => {
    const cols = [...first, 'ms', 'share', ...(per ? [per] : [])];
    return [`| ${cols.join(' | ')} |`, `| ${cols.map(() => '---').join(' | ')} |`];
  };
  const { fromSeconds, toSeconds } = summary.window;
  return [
    `${summary.file}: ${fromSeconds.toFixed(1)} s to ${toSeconds.toFixed(1)} s of the profile, main thread idle ${pct(summary.idleShare)}` +
      (summary.items ? `, ${summary.items.count} ${summary.items.what}s handled` : ''),
    '',
    ...head(['function (self time)', 'where', 'mostly called from']),
    ...summary.functions.map((l) => `| ${l.name} | ${l.where} | ${l.via ?? ''} | ${cells(l)}`),
    '',
    ...head(['area (self time)']),
    ...summary.areas.map((l) => `| ${l.name} | ${cells(l)}`),
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [target, top] = process.argv.slice(2);
  if (!target) throw new Error('usage: npx tsx bench/parts/cpuprofile.ts <profile or directory> [top]');
  console.log(formatProfile(summariseProfile(statSync(target).isDirectory() ? profileIn(target) : target, { top: Number(top ?? 15) })));
}
