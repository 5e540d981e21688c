import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir, TIERS } from '../support/config.js';
import { listeningUrl } from '../support/child.js';
import { until } from '../support/server.js';
import { requireTool } from '../support/tools.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Every process below `pid`, from the process table. */
function descendants(pid: number, ps: string): number[] {
  const table = execFileSync(ps, ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number) as [number, number]);
  const found: number[] = [];
  for (let parents = [pid]; parents.length > 0; ) {
    parents = table.filter(([, ppid]) => parents.includes(ppid)).map(([child]) => child);
    found.push(...parents);
  }
  return found;
}

/** Running, and not a zombie waiting for a parent to collect it. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * `npm run dev` in its own process group (as a terminal runs it), until Arbiter listens; `signal` then stops it as
 * the test asks. Whatever is still running at the end is killed, so that a failure leaves nothing behind.
 */
async function runDev(t: TestContext, signal: (npm: ChildProcess) => void): Promise<string> {
  const ps = requireTool('ps', 'procps');
  const dir = tempDir();
  writeFileSync(join(dir.path, 'roles.json'), JSON.stringify({ tiers: TIERS }));
  const npm = spawn('npm', ['run', 'dev'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? dir.path,
      PORT: '0',
      DATA_DIR: join(dir.path, 'data'),
      ROLES_FILE: join(dir.path, 'roles.json'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let started: number[] = [];
  t.after(() => {
    for (const pid of [npm.pid!, ...started]) if (alive(pid)) process.kill(pid, 'SIGKILL');
    dir.remove();
  });
  let out = '';
  npm.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  npm.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const url = await until(() => listeningUrl(out), 30_000, `Arbiter is listening:\n${out}`);
  assert.match(out, /WEBHOOK_SECRET is not set/, 'development defaults are in use');
  assert.doesNotMatch(out, /^\{"level"/m, 'the log is printed for people, not as JSON lines');
  assert.equal((await fetch(`${url}/health`)).status, 200);
  started = descendants(npm.pid!, ps);
  assert.ok(started.length > 0);

  signal(npm);
  await until(() => [npm.pid!, ...started].every((pid) => !alive(pid)), 15_000, `npm and the processes under it (${started.join(', ')}) to end`);
  await assert.rejects(fetch(`${url}/health`));
  return out;
}

test('SIGINT to `npm run dev` stops Arbiter, which ran with development defaults', { timeout: 60_000 }, async (t) => {
  const out = await runDev(t, (npm) => npm.kill('SIGINT'));
  assert.match(out, /INFO: Arbiter stopped/, out);
});

test('Ctrl-C in a terminal signals npm and Arbiter, and npm passes it on: Arbiter still stops in order', { timeout: 60_000 }, async (t) => {
  const out = await runDev(t, (npm) => process.kill(-npm.pid!, 'SIGINT'));
  assert.match(out, /INFO: shutting down \{"signal":"SIGINT"\}/, out);
  assert.match(out, /INFO: Arbiter stopped/, out);
});
