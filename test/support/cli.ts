/** Runs the `arbiter` CLI (src/cli.ts) as a child process, as a sysadmin would, and collects what it printed. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');
const TSCONFIG = fileURLToPath(new URL('../../tsconfig.json', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `env` is the whole environment the command sees (with PATH); `cwd` is where relative settings resolve. */
export function arbiter(args: string[], env: Record<string, string>, cwd: string, stdin?: string): Promise<CliRun> {
  const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', TSX_TSCONFIG_PATH: TSCONFIG, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(stdin ?? '');
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * The same entry (runCli) called in this process: for what needs no process of its own (help, refusals of the
 * arguments), where starting one per case would only cost time.
 */
export async function arbiterHere(args: string[], env: Record<string, string>, cwd: string): Promise<CliRun> {
  const { runCli } = await import('../../src/ops/cli.js');
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, { out: (text) => (stdout += `${text}\n`), err: (text) => (stderr += `${text}\n`), env, cwd });
  return { code, stdout, stderr };
}
