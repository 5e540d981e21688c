/** Runs src/main.ts in a child process, as `npm start` would, and reads its log. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');
/** tsx reads tsconfig.json from the working directory; the child runs elsewhere and needs its JSX settings. */
const TSCONFIG = fileURLToPath(new URL('../../tsconfig.json', import.meta.url));

/**
 * The address in the "Arbiter is listening" line of a log: a JSON line, or in development a readable line
 * (`[12:00:00.000] INFO: Arbiter is listening {"url":"http://...",...}`).
 */
export function listeningUrl(log: string): string | undefined {
  const match = /"url":"(http:\/\/[^"]+)".*"msg":"Arbiter is listening"|INFO: Arbiter is listening \{"url":"(http:\/\/[^"]+)"/.exec(log);
  return match?.[1] ?? match?.[2];
}

export interface Child {
  process: ChildProcess;
  url: Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout(): string;
  stderr(): string;
}

export function runMain(env: Record<string, string>, cwd: string): Child {
  const child = spawn(process.execPath, ['--import', TSX, MAIN], {
    cwd,
    env: { PATH: process.env.PATH ?? '', TSX_TSCONFIG_PATH: TSCONFIG, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const url = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const listening = listeningUrl(out);
      if (listening) resolve(listening);
    });
    child.once('exit', () => reject(new Error(`exited before listening:\n${out}\n${err}`)));
  });
  url.catch(() => undefined);
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { process: child, url, exited, stdout: () => out, stderr: () => err };
}
