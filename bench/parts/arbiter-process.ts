/**
 * Arbiter in its own process, as systemd runs it (production mode, JSON log to a file), with the stand-ins for
 * Discord, Ghost and SMTP in this process: the time from spawn to the first 200 from /health, its memory from
 * /proc, signed webhook load, and an admin signed in through the Discord stand-in. Used by bench/scale.ts,
 * bench/footprint.ts, bench/sweep.ts and bench/latency.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startFakeDiscord, type FakeDiscord } from '../../stand-ins/discord.js';
import { startFakeGhost, type FakeGhost } from '../../stand-ins/ghost.js';
import { startSmtp, type TestSmtp } from '../../stand-ins/smtp.js';
import { ADMIN } from '../../test/support/admin.js';
import { WEBHOOK_SECRET } from '../../test/support/config.js';
import { eventBody, standardHeaders, type EventFields } from '../../test/support/webhooks.js';
import { Browser, freePort } from '../../test/support/world.js';
import { cpuSeconds, ROOT } from './processes.js';
import { percentile } from './report.js';

const TSX = import.meta.resolve('tsx');
const SQL_TRACE = fileURLToPath(new URL('../sql-trace.ts', import.meta.url));
export const GUILD_ID = '200000000000000001';
/** The Discord application the stand-in knows and Arbiter is given. */
export const CLIENT = { clientId: '400000000000000001', clientSecret: 'bench-client-secret', botToken: 'bench-bot-token-0123456789abcdef' };

export interface StandIns {
  discord: FakeDiscord;
  ghost: FakeGhost;
  smtp: TestSmtp;
  close(): Promise<void>;
}

/** Discord with the tiers' roles (answering at once: no rate limits reached), Ghost, and an SMTP server. */
export async function startStandIns(roles: { id: string; name: string }[]): Promise<StandIns> {
  const discord = await startFakeDiscord({
    ...CLIENT,
    guildId: GUILD_ID,
    guildName: 'Bench Server',
    roles: roles.map((r, i) => ({ ...r, position: i + 1 })),
    botRolePosition: roles.length + 5,
  });
  const ghost = await startFakeGhost();
  const smtp = await startSmtp();
  return { discord, ghost, smtp, close: async () => void (await Promise.all([discord.close(), ghost.close(), smtp.close()])) };
}

/** `dist`: node dist/main.js with npm start's options, as the systemd unit runs it. `tsx`: node --import tsx src/main.ts. */
export type Entry = 'dist' | 'tsx';

export interface ArbiterOptions {
  /** Its working directory; holds arbiter.log (and roles.json when `tiers` is given). */
  dir: string;
  entry: Entry;
  /** Settings pointing Arbiter at these stand-ins (Discord, Ghost, SMTP) and at an admin; `env` comes on top. */
  standIns?: StandIns;
  /** Written to <dir>/roles.json. */
  tiers?: Record<string, string[]>;
  env?: Record<string, string>;
  /** Record each distinct SQL statement run into this file (bench/sql-trace.ts; needs tsx, so only with entry tsx). */
  sqlTrace?: string;
  /** Extra node options, e.g. --cpu-prof. */
  nodeArgs?: string[];
  /** Each line of Arbiter's JSON log, parsed, as it is written (the log also goes to arbiter.log). */
  onLine?: (line: Record<string, unknown>) => void;
}

export interface RunningArbiter {
  url: string;
  pid: number;
  child: ChildProcess;
  /** From spawn to the first 200 from /health, ms. */
  healthyMs: number;
  log: string;
  memory(): Memory;
  /** User and system CPU time it has used so far, seconds. */
  cpuSeconds(): number;
  /** SIGTERM, and the graceful stop awaited. */
  stop(): Promise<void>;
}

/** Resident memory now and at its highest so far, MB (VmRSS and VmHWM of /proc/<pid>/status). */
export interface Memory {
  rssMb: number;
  hwmMb: number;
}

export function memoryOf(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

/** The settings that point Arbiter at this Discord stand-in, as the application CLIENT in the guild GUILD_ID. */
export function discordEnv(discord: FakeDiscord): Record<string, string> {
  return {
    DISCORD_CLIENT_ID: CLIENT.clientId,
    DISCORD_CLIENT_SECRET: CLIENT.clientSecret,
    DISCORD_BOT_TOKEN: CLIENT.botToken,
    DISCORD_GUILD_ID: GUILD_ID,
    DISCORD_API_URL: discord.apiUrl,
    DISCORD_AUTHORIZE_URL: discord.authorizeUrl,
  };
}

function standInEnv({ discord, ghost, smtp }: StandIns): Record<string, string> {
  return {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    WEBHOOK_SECRET,
    SESSION_SECRET: 'bench-session-secret-0123456789abcdef0123456789',
    EMAIL_FROM: 'Arbiter <arbiter@example.test>',
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(smtp.port),
    ...discordEnv(discord),
    CMS_URL: ghost.url,
    CMS_ADMIN_KEY: ghost.adminKey,
    ADMIN_DISCORD_IDS: ADMIN.id,
    LOG_LEVEL: 'info',
  };
}

/** The node options of package.json's start script (`exec node <options> dist/main.js`). */
function startOptions(): string[] {
  const start = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  const options = /\bnode((?: --?\S+)*) dist\/main\.js/.exec(start);
  if (!options) throw new Error(`package.json's start script does not run node dist/main.js: ${start}`);
  return options[1]!.trim().split(/\s+/).filter(Boolean);
}

/** Arbiter in its own process on a free port (or env.PORT), awaited until /health answers 200. */
export async function startArbiter(options: ArbiterOptions): Promise<RunningArbiter> {
  const given = { ...(options.standIns ? standInEnv(options.standIns) : {}), ...options.env };
  const port = Number(given.PORT) || (await freePort());
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    DATA_DIR: join(options.dir, 'data'),
    ROLES_FILE: join(options.dir, 'roles.json'),
    APP_URL: `http://127.0.0.1:${port}`,
    ...given,
    PORT: String(port),
  };
  if (options.tiers) writeFileSync(join(options.dir, 'roles.json'), JSON.stringify({ tiers: options.tiers }));
  // BENCH_CPU_PROF=<dir>: Arbiter writes a CPU profile there when it stops.
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const args = [...profile, ...(options.nodeArgs ?? [])];
  if (options.entry === 'tsx' || options.sqlTrace) args.push('--import', TSX);
  if (options.sqlTrace) {
    if (options.entry !== 'tsx') throw new Error('the SQL trace is loaded through tsx: use entry tsx');
    args.push('--import', SQL_TRACE);
    env.BENCH_SQL_TRACE = options.sqlTrace;
  }
  if (options.entry === 'dist') args.push(...startOptions());
  args.push(options.entry === 'dist' ? join(ROOT, 'dist/main.js') : join(ROOT, 'src/main.ts'));
  if (options.entry === 'tsx') env.TSX_TSCONFIG_PATH = join(ROOT, 'tsconfig.json');
  const log = join(options.dir, 'arbiter.log');
  const out = createWriteStream(log, { flags: 'a' });
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, args, { cwd: options.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(out);
  child.stderr!.pipe(out);
  const onLine = options.onLine;
  if (onLine) {
    createInterface({ input: child.stdout! }).on('line', (text) => {
      try {
        onLine(JSON.parse(text) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    });
  }
  let exited: string | null = null;
  const gone = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = `exited with ${code ?? signal}`;
      resolve();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  let healthyMs = NaN;
  for (const deadline = spawnedAt + 120_000; ; ) {
    if (exited) throw new Error(`Arbiter ${exited} before it was healthy; its log:\n${readFileSync(log, 'utf8').slice(-3000)}`);
    try {
      const res = await fetch(`${url}/health`);
      await res.arrayBuffer();
      if (res.status === 200) {
        healthyMs = performance.now() - spawnedAt;
        break;
      }
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) throw new Error('Arbiter was not healthy within 120 s');
    await sleep(5);
  }
  return {
    url,
    pid: child.pid!,
    child,
    healthyMs,
    log,
    memory: () => memoryOf(child.pid!),
    cpuSeconds: () => cpuSeconds(child.pid) ?? NaN,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await gone;
      clearTimeout(timer);
      out.end();
    },
  };
}

export interface IngestResult {
  deliveries: number;
  concurrency: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
  /** Every delivery's time, ms, sorted. */
  latencies: number[];
}

/** Signed deliveries (Standard Webhooks) posted by `concurrency` clients; any answer but 200 stops the run. */
export async function ingest(url: string, total: number, concurrency: number, fields: (i: number) => EventFields): Promise<IngestResult> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const body = eventBody(fields(i));
        const t0 = performance.now();
        const res = await fetch(`${url}/webhook/billing`, { method: 'POST', headers: standardHeaders(WEBHOOK_SECRET, body), body });
        const text = await res.text();
        if (res.status !== 200) throw new Error(`delivery ${i} answered ${res.status}: ${text.slice(0, 300)}`);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { deliveries: total, concurrency, seconds, perSecond: total / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1)!, latencies };
}

/** An admin signed in through the Discord stand-in, as a browser would, and the time it took, the dashboard it lands on included. */
export async function signInAdmin(arbiter: RunningArbiter, discord: FakeDiscord): Promise<{ browser: Browser; ms: number }> {
  discord.addUser(ADMIN);
  discord.signIn(ADMIN.id);
  const browser = new Browser();
  const t0 = performance.now();
  const { res, hops } = await browser.follow(`${arbiter.url}/admin/login`);
  await res.text();
  if (res.status !== 200 || new URL(hops.at(-1)!).pathname !== '/admin') throw new Error(`admin sign-in ended at ${hops.at(-1)} with ${res.status}`);
  return { browser, ms: performance.now() - t0 };
}

/** One GET of a panel page, whole body read; ms. */
export async function timedGet(browser: Browser, url: string): Promise<number> {
  const t0 = performance.now();
  const res = await browser.get(url);
  const body = await res.text();
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}: ${body.slice(0, 300)}`);
  return ms;
}
