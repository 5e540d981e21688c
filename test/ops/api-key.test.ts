import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import type { AuditRow } from '../../src/audit/log.js';
import { arbiter, arbiterHere } from '../support/cli.js';
import { tempDir, testEnv, TIERS, type TempDir } from '../support/config.js';
import { writeFileSync } from 'node:fs';

let dir: TempDir;
let env: Record<string, string>;

before(() => {
  dir = tempDir();
  writeFileSync(join(dir.path, 'roles.json'), JSON.stringify({ tiers: TIERS }));
  env = testEnv(dir.path);
});
after(() => dir.remove());

const apiKey = (args: string[]) => arbiterHere(['api-key', ...args], env, dir.path);

function query<T>(sql: string, ...params: unknown[]): T[] {
  const db = new Database(join(env.DATA_DIR!, 'arbiter.db'), { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

function filesUnder(path: string): string[] {
  return readdirSync(path).flatMap((name) => {
    const full = join(path, name);
    return statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

const KEY = /^arb_[A-Za-z0-9_-]{43}$/;

test('create prints the key once on stdout (the words on stderr); only its SHA-256 is stored; audited as cli:<login>', async () => {
  // The real command, as a sysadmin runs it: a script can read the key alone from stdout.
  const run = await arbiter(['api-key', 'create', '--name', 'shop-bot', '--scope', 'write'], env, dir.path);
  assert.equal(run.code, 0, run.stderr);
  const key = run.stdout.trim();
  assert.match(key, KEY);
  assert.match(run.stderr, /shop-bot/);
  assert.match(run.stderr, /only this once/);

  const [row] = query<{ name: string; scope: string; key_hash: string; last_used_at: string | null; revoked_at: string | null }>('SELECT * FROM api_keys');
  assert.equal(row!.name, 'shop-bot');
  assert.equal(row!.scope, 'write');
  assert.equal(row!.key_hash, createHash('sha256').update(key).digest('hex'));
  assert.equal(row!.last_used_at, null);
  assert.equal(row!.revoked_at, null);

  for (const file of filesUnder(env.DATA_DIR!)) {
    const bytes = readFileSync(file);
    assert.equal(bytes.includes(key), false, `the key is in ${file}`);
    assert.equal(bytes.includes(key.slice(4)), false, `the key's random part is in ${file}`);
  }

  const [audit] = query<AuditRow>("SELECT * FROM audit_logs WHERE action = 'api_key.created'");
  assert.match(audit!.actor, /^cli:\S+$/);
  assert.match(audit!.actor_name ?? '', /\(command line\)$/);
  assert.deepEqual(JSON.parse(audit!.details!), { name: 'shop-bot', scope: 'write' });
});

test('list shows name, scope, created, last used and revoked, never a key or its hash', async () => {
  const made = await apiKey(['create', '--name', 'reader', '--scope', 'read']);
  assert.equal(made.code, 0, made.stderr);
  const list = await apiKey(['list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /NAME\s+SCOPE\s+CREATED\s+LAST USED\s+REVOKED/);
  assert.match(list.stdout, /^reader\s+read\s+\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC\s+never\s+-\s*$/m);
  assert.match(list.stdout, /^shop-bot\s+write\s/m);
  assert.equal(list.stdout.includes(made.stdout.trim()), false);
  for (const { key_hash } of query<{ key_hash: string }>('SELECT key_hash FROM api_keys')) assert.equal(list.stdout.includes(key_hash), false);
  assert.doesNotMatch(list.stdout, /arb_/);
});

test('revoke marks the key revoked and audits it; a second revoke or an unknown name is refused with exit 1', async () => {
  assert.equal((await apiKey(['create', '--name', 'old-bot', '--scope', 'read'])).code, 0);
  const revoked = await apiKey(['revoke', '--name', 'old-bot']);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.match(revoked.stdout, /Revoked the API key "old-bot"/);
  const [row] = query<{ revoked_at: string | null }>("SELECT revoked_at FROM api_keys WHERE name = 'old-bot'");
  assert.ok(row!.revoked_at);
  const [audit] = query<AuditRow>("SELECT * FROM audit_logs WHERE action = 'api_key.revoked'");
  assert.match(audit!.actor, /^cli:/);
  assert.deepEqual(JSON.parse(audit!.details!), { name: 'old-bot', scope: 'read' });
  assert.match((await apiKey(['list'])).stdout, /^old-bot\s+read\s+\S+ \S+ UTC\s+never\s+\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC\s*$/m);

  const auditCount = () => query<{ n: number }>('SELECT COUNT(*) AS n FROM audit_logs')[0]!.n;
  const before = auditCount();
  const again = await apiKey(['revoke', '--name', 'old-bot']);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already revoked/);
  const unknown = await apiKey(['revoke', '--name', 'no-such-bot']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /There is no API key named "no-such-bot"/);
  assert.equal(auditCount(), before);
});

test('bad arguments are refused with exit 1 and words, and nothing is written', async () => {
  const count = () => query<{ n: number }>('SELECT COUNT(*) AS n FROM api_keys')[0]!.n;
  const before = count();
  const cases: [string[], RegExp][] = [
    [[], /Say what to do: create, list or revoke/],
    [['rotate'], /Say what to do: create, list or revoke/],
    [['create', '--scope', 'read'], /--name/],
    [['create', '--name', 'x y', '--scope', 'read'], /--name: /],
    [['create', '--name', 'ok-name'], /--scope: read or write/],
    [['create', '--name', 'ok-name', '--scope', 'admin'], /--scope: read or write/],
    [['create', '--name', 'shop-bot', '--scope', 'read'], /already an API key named "shop-bot"/],
    [['revoke'], /--name/],
    [['list', '--scope', 'read'], /list takes no options/],
  ];
  for (const [args, message] of cases) {
    const run = await apiKey(args);
    assert.equal(run.code, 1, `${args.join(' ')}: ${run.stdout}`);
    assert.match(run.stderr, message, args.join(' '));
    assert.equal(run.stdout, '', args.join(' '));
  }
  assert.equal(count(), before);
});

test('--help explains the actions without reading any configuration', async () => {
  const help = await arbiterHere(['api-key', '--help'], {}, dir.path);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: arbiter api-key/);
  for (const word of ['create', 'list', 'revoke', '--scope']) assert.ok(help.stdout.includes(word), word);
});
