/**
 * Arbiter as it runs in production, in its own process: src/main.ts with a temp DATA_DIR (SQLite, WAL,
 * synchronous=FULL), the worker running, mail to a real SMTP server, log level info with the log written to a file
 * (as journald would take it). NODE_ENV=test only so that Discord and Ghost may be left unset: a
 * `subscription.created` for a new subscriber needs neither (it asks for a link email only).
 */
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TIERS, WEBHOOK_SECRET } from '../../test/support/config.js';
import { path, ROOT, startServerChild, type ServerChild } from './processes.js';

const ARBITER_MAIN = path('src/main.ts');
export const EMAIL_FROM = 'Arbiter <arbiter@bench.example>';
export const APP_URL = 'http://arbiter.bench.example';
export { WEBHOOK_SECRET };

function arbiterEnv(dir: string, smtpPort: number): Record<string, string> {
  writeFileSync(join(dir, 'roles.json'), JSON.stringify({ tiers: TIERS }));
  return {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    APP_URL,
    DATA_DIR: join(dir, 'data'),
    ROLES_FILE: join(dir, 'roles.json'),
    WEBHOOK_SECRET,
    SESSION_SECRET: 'bench-session-secret-0123456789abcdef0123456789',
    EMAIL_FROM,
    LOG_LEVEL: 'info',
    SMTP_HOST: '127.0.0.1',
    SMTP_PORT: String(smtpPort),
  };
}

export interface ArbiterCopy {
  main: string;
  /** tsx applies a tsconfig.json (JSX for preact) only to the files its `include` names: each copy needs its own. */
  tsconfig: string;
}

export function startArbiter(dir: string, smtpPort: number, options: { copy?: ArbiterCopy | undefined; cpuProfDir?: string | undefined } = {}): Promise<ServerChild> {
  const { copy, cpuProfDir } = options;
  const env = { ...arbiterEnv(dir, smtpPort), ...(copy ? { TSX_TSCONFIG_PATH: copy.tsconfig } : {}) };
  return startServerChild({ name: 'Arbiter', entry: copy?.main ?? ARBITER_MAIN, env, logFile: join(dir, 'arbiter.log'), cpuProfDir });
}

/**
 * Arbiter as it was at another commit, to measure a change before and after in one run: its src/, public/, VERSION,
 * package.json and tsconfig.json, taken with `git archive` into a temp directory that uses this checkout's
 * node_modules. Returns the copy, the commit it resolved to, and a way to remove it.
 */
export function arbiterAt(rev: string): ArbiterCopy & { commit: string; remove(): void } {
  const commit = execFileSync('git', ['-C', ROOT, 'rev-parse', '--verify', `${rev}^{commit}`], { encoding: 'utf8' }).trim();
  const dir = mkdtempSync(join(tmpdir(), `arbiter-bench-${commit.slice(0, 8)}-`));
  const archive = execFileSync('git', ['-C', ROOT, 'archive', commit, 'src', 'public', 'VERSION', 'package.json', 'tsconfig.json'], { maxBuffer: 1 << 30 });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  symlinkSync(path('node_modules'), join(dir, 'node_modules'));
  return { main: join(dir, 'src', 'main.ts'), tsconfig: join(dir, 'tsconfig.json'), commit, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface ArbiterCounts {
  webhookEvents: number;
  subscriptions: number;
  linkEmailJobs: Record<string, number>;
  linkEmailed: number;
  /** The errors link_email jobs were left with, most frequent first. */
  linkEmailErrors: { error: string; n: number }[];
}

/** What Arbiter's database holds after it stopped. */
export function arbiterCounts(dir: string): ArbiterCounts {
  const db = new Database(join(dir, 'data', 'arbiter.db'), { readonly: true });
  try {
    const n = (sql: string) => db.prepare(sql).pluck().get() as number;
    const jobs = db.prepare(`SELECT status, COUNT(*) AS n FROM jobs WHERE kind = 'link_email' GROUP BY status`).all() as { status: string; n: number }[];
    return {
      webhookEvents: n('SELECT COUNT(*) FROM webhook_events'),
      subscriptions: n('SELECT COUNT(*) FROM subscriptions'),
      linkEmailJobs: Object.fromEntries(jobs.map((j) => [j.status, j.n])),
      linkEmailed: n(`SELECT COUNT(*) FROM audit_logs WHERE action = 'link.emailed'`),
      linkEmailErrors: db
        .prepare(`SELECT last_error AS error, COUNT(*) AS n FROM jobs WHERE kind = 'link_email' AND last_error IS NOT NULL GROUP BY last_error ORDER BY n DESC LIMIT 5`)
        .all() as { error: string; n: number }[],
    };
  } finally {
    db.close();
  }
}
