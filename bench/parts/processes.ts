/**
 * The processes of a benchmark: every server (Arbiter and the bare baselines) is started the same way, as
 * `node --import tsx <entry>` with its port in PORT, in its own process; helpers (load generator, SMTP server,
 * bare mailer) are forked with an IPC channel.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { remote, type Remote } from './rpc.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX = import.meta.resolve('tsx');
const NODE_ARGS = ['--import', TSX];

/** A path in this checkout, from its root. */
export function path(relative: string): string {
  return join(ROOT, relative);
}

const TSCONFIG = path('tsconfig.json');

/**
 * The same as test/support/world.ts's freePort, kept here on purpose: importing world.ts loads all of Arbiter and the
 * stand-ins (seconds and some 100 MB), which every module that imports this one would then carry, the bare mailer's
 * helper process among them.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const ticksPerSecond = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used so far, from /proc; null where /proc is not there. */
export function cpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return null;
  }
}

export interface ServerChild {
  name: string;
  pid: number;
  url: string;
  /** SIGTERM, then waits for the exit (a CPU profile is written at exit). */
  stop(): Promise<void>;
  stderr(): string;
}

export interface ServerOptions {
  name: string;
  entry: string;
  env: Record<string, string>;
  /** Where the process's stdout (its log) goes. */
  logFile: string;
  /** Runs the child with --cpu-prof, writing the profile into this directory. */
  cpuProfDir?: string | undefined;
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Starts a server child on a free port and waits until it accepts connections. */
export async function startServerChild(options: ServerOptions): Promise<ServerChild> {
  const port = await freePort();
  const log = openSync(options.logFile, 'a');
  const profile = options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : [];
  const child = spawn(process.execPath, [...profile, ...NODE_ARGS, options.entry], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', TSX_TSCONFIG_PATH: TSCONFIG, ...options.env, PORT: String(port) },
    stdio: ['ignore', log, 'pipe'],
  });
  closeSync(log);
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  let exited: { code: number | null; signal: string | null } | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve();
    }),
  );
  const deadline = Date.now() + 60_000;
  while (!(await portOpen(port))) {
    if (exited) throw new Error(`${options.name} exited (${exited.signal ?? exited.code}) before listening:\n${err}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${options.name} did not listen on port ${port} within 60 s:\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    name: options.name,
    pid: child.pid!,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      if (!exited) child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exit;
      clearTimeout(force);
    },
    stderr: () => err,
  };
}

export interface HelperChild {
  process: ChildProcess;
  remote: Remote;
  stop(): Promise<void>;
}

/** Forks a helper (bench/parts/<name>.ts) with an IPC channel; its output goes to ours. */
export function startHelper(entry: string, env: Record<string, string> = {}): HelperChild {
  const child = fork(entry, [], {
    cwd: ROOT,
    execArgv: NODE_ARGS,
    env: { PATH: process.env.PATH ?? '', TSX_TSCONFIG_PATH: TSCONFIG, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    process: child,
    remote: remote(child),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.disconnect();
        const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exit;
        clearTimeout(force);
      }
    },
  };
}
