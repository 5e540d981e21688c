/**
 * What the log looks like: lines for people in development (`npm run dev`), JSON lines in production and test (for
 * journald and whatever reads it), and no secret in either.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runMain } from '../support/child.js';
import { tempDir, TIERS, UNREACHABLE_DISCORD, WEBHOOK_SECRET } from '../support/config.js';

const LOG_MODULE = pathToFileURL(fileURLToPath(new URL('../../src/log.ts', import.meta.url))).href;
const TSX = import.meta.resolve('tsx');

const lines = (text: string) => text.split('\n').filter((line) => line.trim() !== '');

/** Runs Arbiter as `npm run dev` or `npm start` would, until it listens; then stops it with SIGTERM. */
async function runUntilListening(env: Record<string, string>) {
  const dir = tempDir();
  writeFileSync(join(dir.path, 'roles.json'), JSON.stringify({ tiers: TIERS }));
  const child = runMain({ PORT: '0', DATA_DIR: join(dir.path, 'data'), ROLES_FILE: join(dir.path, 'roles.json'), LOG_LEVEL: 'info', ...env }, dir.path);
  try {
    const url = await child.url;
    assert.equal((await fetch(`${url}/health`)).status, 200);
    child.process.kill('SIGTERM');
    assert.deepEqual(await child.exited, { code: 0, signal: null });
    return { stdout: child.stdout(), stderr: child.stderr() };
  } finally {
    child.process.kill('SIGKILL');
    await child.exited;
    dir.remove();
  }
}

test('in development the log is written for people: one readable line per event, no JSON objects', { timeout: 60_000 }, async () => {
  const { stdout } = await runUntilListening({ NODE_ENV: 'development' });
  const out = lines(stdout);
  assert.ok(out.length > 0);
  for (const line of out) assert.doesNotMatch(line, /^\{"level"/, line);
  assert.match(stdout, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: Arbiter is listening \{"url":"http:\/\/127\.0\.0\.1:\d+"/m);
  assert.match(stdout, /^\[[\d:.]+\] WARN: WEBHOOK_SECRET is not set/m);
  // A request line, and the last line before exit: nothing waiting in the printer is lost at shutdown.
  assert.match(stdout, /^\[[\d:.]+\] INFO: request \{.*"path":"\/health".*"status":200/m);
  assert.match(stdout, /^\[[\d:.]+\] INFO: shutting down \{"signal":"SIGTERM"\}$/m);
  assert.match(out.at(-1)!, /INFO: Arbiter stopped$/);
});

test('in production the log is JSON lines', { timeout: 60_000 }, async () => {
  const { stdout } = await runUntilListening({
    NODE_ENV: 'production',
    APP_URL: 'https://arbiter.test',
    WEBHOOK_SECRET,
    SESSION_SECRET: 'production-session-secret-0123456789abcdef',
    SMTP_HOST: '127.0.0.1',
    EMAIL_FROM: 'Arbiter <arbiter@arbiter.test>',
    ...UNREACHABLE_DISCORD,
  });
  const parsed = lines(stdout).map((line) => JSON.parse(line) as { level: string; msg: string });
  for (const entry of parsed) {
    assert.equal(typeof entry.level, 'string');
    assert.equal(typeof entry.msg, 'string');
  }
  assert.ok(parsed.some((entry) => entry.msg === 'Arbiter is listening'));
  assert.equal(parsed.at(-1)!.msg, 'Arbiter stopped');
});

/** One log line with secrets in it, from a process whose logger is made for `env`. */
async function logSecrets(env: string): Promise<string> {
  const script = [
    `import { createLogger } from ${JSON.stringify(LOG_MODULE)};`,
    `createLogger('info', undefined, ${JSON.stringify(env)}).warn(`,
    `  { token: 'token-value-1', session: { cookie: 'cookie-value-2' }, oauth: { body: { client_secret: 'secret-value-3' } } },`,
    `  'with secrets');`,
  ].join('\n');
  const child = spawn(process.execPath, ['--import', TSX, '--input-type=module', '-e', script], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise((resolve) => child.once('close', resolve));
  assert.equal(code, 0, out);
  return out;
}

test('secrets are redacted in readable lines as in JSON lines', { timeout: 30_000 }, async () => {
  const pretty = await logSecrets('development');
  assert.match(pretty, /^\[[\d:.]+\] WARN: with secrets \{"token":"\[redacted\]","session":\{"cookie":"\[redacted\]"\},"oauth":\{"body":\{"client_secret":"\[redacted\]"\}\}\}$/m);
  const json = await logSecrets('production');
  assert.equal(JSON.parse(json).token, '[redacted]');
  for (const out of [pretty, json]) assert.doesNotMatch(out, /token-value-1|cookie-value-2|secret-value-3/);
});
