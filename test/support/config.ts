import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config.js';
import { isArbiterError } from '../../src/errors.js';

export const TIERS = {
  awakened: ['1100000000000000001'],
  ascended: ['1100000000000000001', '1100000000000000002'],
};
/** Complete Discord settings whose API nobody answers: for tests that never reach Discord. */
export const UNREACHABLE_DISCORD = {
  DISCORD_CLIENT_ID: '100000000000000001',
  DISCORD_CLIENT_SECRET: 'client-secret-value',
  DISCORD_BOT_TOKEN: 'bot-token-value-that-is-long-enough',
  DISCORD_GUILD_ID: '100000000000000002',
  DISCORD_API_URL: 'http://127.0.0.1:9/api',
};
export const WEBHOOK_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

export interface TempDir {
  path: string;
  remove(): void;
}

export function tempDir(prefix = 'arbiter-test-'): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** The environment testConfig loads: port 0, a temp DATA_DIR, test secrets. A child process (the CLI) can run on it. */
export function testEnv(dir: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    APP_URL: 'http://127.0.0.1:3500',
    DATA_DIR: join(dir, 'data'),
    ROLES_FILE: join(dir, 'roles.json'),
    WEBHOOK_SECRET,
    SESSION_SECRET: 'test-session-secret-0123456789abcdef0123456789',
    EMAIL_FROM: 'Arbiter <arbiter@example.test>',
    LOG_LEVEL: 'silent',
    ...env,
  };
}

/** A Config as loadConfig makes it from testEnv, with roles.json written in `dir`. */
export function testConfig(dir: string, env: Record<string, string> = {}, tiers: Record<string, string[]> = TIERS): Config {
  writeFileSync(join(dir, 'roles.json'), JSON.stringify({ tiers }));
  return loadConfig(testEnv(dir, env), { cwd: dir, envFile: false });
}

/** The configuration problems loadConfig refuses to start with. */
export function problemsOf(load: () => Config): string[] {
  try {
    load();
  } catch (err) {
    assert.ok(isArbiterError(err) && err.code === 'config_invalid', String(err));
    return err.details as string[];
  }
  assert.fail('the configuration was accepted');
}
