import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { migrations } from '../../src/db/migrations.js';
import { openDatabase } from '../../src/db/open.js';
import { runMain, type Child } from '../support/child.js';
import { arbiter } from '../support/cli.js';
import { tempDir, TIERS, WEBHOOK_SECRET, type TempDir } from '../support/config.js';
import { until } from '../support/server.js';
import { eventBody, postWebhook, standardHeaders } from '../support/webhooks.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = join(REPO, 'backup.sh');
const VERSION = readFileSync(join(REPO, 'VERSION'), 'utf8').trim();
const LATEST = Math.max(...migrations.map((m) => m.version));
const COMPLETE = /^arbiter-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ$/;

/** A temp dir with roles.json and an environment file naming DATA_DIR=<dir>/data. */
function setUp(extra: Record<string, string> = {}): { dir: TempDir; env: Record<string, string>; envFile: string; data: string } {
  const dir = tempDir('arbiter-backup-');
  writeFileSync(join(dir.path, 'roles.json'), JSON.stringify({ tiers: TIERS }), { mode: 0o644 });
  const env = {
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: join(dir.path, 'data'),
    ROLES_FILE: join(dir.path, 'roles.json'),
    WEBHOOK_SECRET,
    SESSION_SECRET: 'backup-test-session-secret-0123456789abcdef',
    LOG_LEVEL: 'silent',
    ...extra,
  };
  const envFile = join(dir.path, 'arbiter.env');
  writeFileSync(envFile, Object.entries(env).map(([k, v]) => `${k}=${v}`).join('\n'), { mode: 0o644 });
  return { dir, env, envFile, data: env.DATA_DIR };
}

/** A DATA_DIR as a stopped Arbiter leaves it: arbiter.db with `rows` deliveries, and a sessions.db. */
function seedData(data: string, rows = 20): void {
  const db = openDatabase(join(data, 'arbiter.db'));
  const insert = db.prepare(
    `INSERT INTO webhook_events (delivery_id, dedupe, scheme, type, subscription_id, payload, received_at, outcome)
     VALUES (?, 'webhook-id', 'standard', 'subscription.created', ?, ?, ?, 'applied')`,
  );
  db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run(`msg_seed_${i}`, `sub_${i}`, eventBody({ subscription_id: `sub_${i}` }).padEnd(400, ' '), new Date().toISOString());
  })();
  db.close();
  const sessions = new Database(join(data, 'sessions.db'));
  sessions.pragma('journal_mode = WAL');
  sessions.exec("CREATE TABLE sessions (sid PRIMARY KEY, expired, sess); INSERT INTO sessions VALUES ('s1', 0, '{}')");
  sessions.close();
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const mode = (path: string) => statSync(path).mode & 0o777;
const lines = (text: string) => text.split('\n').filter(Boolean);

function deliveryIds(dbFile: string): Set<string> {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    return new Set(db.prepare('SELECT delivery_id FROM webhook_events').pluck().all() as string[]);
  } finally {
    db.close();
  }
}

async function stopChild(child: Child | undefined): Promise<void> {
  if (!child || child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill('SIGTERM');
  await child.exited;
}

function post(url: string, id: string, body: string) {
  return postWebhook(url, body, standardHeaders(WEBHOOK_SECRET, body, { id }));
}

test('a backup taken while webhooks arrive holds every delivery answered before it began, and restores into a fresh DATA_DIR', { timeout: 120_000 }, async (t) => {
  const { dir, env, envFile } = setUp();
  let first: Child | undefined;
  let second: Child | undefined;
  t.after(async () => {
    await stopChild(first);
    await stopChild(second);
    dir.remove();
  });
  first = runMain({ ...env, LOG_LEVEL: 'info' }, dir.path);
  const url = await first.url;

  const answered: { id: string; body: string }[] = [];
  let stop = false;
  const load = async (lane: number) => {
    for (let i = 0; !stop; i++) {
      const id = `msg_${lane}_${i}`;
      const body = eventBody({ subscription_id: `sub_${lane}_${i}`, customer_email: `user${lane}x${i}@example.com` });
      const res = await post(url, id, body);
      if (res.status >= 200 && res.status < 300) answered.push({ id, body });
    }
  };
  const lanes = [0, 1, 2, 3].map(load);
  await until(() => answered.length >= 40, 30_000, '40 answered deliveries');
  const beforeBackup = [...answered];
  const backups = join(dir.path, 'backups');
  const run = await arbiter(['backup', '--env', envFile, '--to', backups], {}, dir.path);
  const duringBackup = answered.length - beforeBackup.length;
  stop = true;
  await Promise.all(lanes);

  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stderr, '');
  assert.equal(lines(run.stdout).length, 1);
  assert.match(run.stdout, /^backup ok: .+ \(arbiter\.db [\d.]+ (B|kB|MB), sessions\.db [\d.]+ (B|kB|MB), 1 kept, 0 removed\)\n$/);
  assert.ok(duringBackup > 0, 'webhooks were answered while the backup ran');
  const [made] = readdirSync(backups);
  assert.match(made!, COMPLETE);

  const restored = join(dir.path, 'restored');
  const restore = await arbiter(['restore', join(backups, made!), '--env', envFile], { DATA_DIR: restored }, dir.path);
  assert.equal(restore.code, 0, restore.stderr);
  assert.match(restore.stdout, new RegExp(`${join(backups, made!, 'arbiter.env')}`));
  assert.match(restore.stdout, new RegExp(`${join(backups, made!, 'roles.json')}`));
  assert.equal(mode(restored), 0o700);
  assert.equal(mode(join(restored, 'arbiter.db')), 0o600);
  assert.equal(mode(join(restored, 'sessions.db')), 0o600);

  const stored = deliveryIds(join(restored, 'arbiter.db'));
  for (const { id } of beforeBackup) assert.ok(stored.has(id), `${id} was answered before the backup began but is not in it`);

  second = runMain({ ...env, DATA_DIR: restored, LOG_LEVEL: 'info' }, dir.path);
  const restoredUrl = await second.url;
  for (const { id, body } of beforeBackup) {
    const res = await post(restoredUrl, id, body);
    assert.equal(res.status, 200);
    assert.equal(res.json.status, 'duplicate', `${id} again`);
  }
});

test('a copy that fails the integrity check is not kept: exit 1, one line of words, nothing left in the backup directory', async (t) => {
  const { dir, envFile, data } = setUp();
  t.after(() => dir.remove());
  seedData(data, 300);
  // Garbage over the root page of webhook_events, in a database no one has open: the online backup copies pages
  // as they are, so the copy is as damaged as the source.
  const db = new Database(join(data, 'arbiter.db'), { readonly: true });
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const root = db.prepare("SELECT rootpage FROM sqlite_schema WHERE name = 'webhook_events'").pluck().get() as number;
  db.close();
  const fd = openSync(join(data, 'arbiter.db'), 'r+');
  writeSync(fd, Buffer.alloc(pageSize, 0x5a), 0, pageSize, (root - 1) * pageSize);
  closeSync(fd);

  const backups = join(dir.path, 'backups');
  mkdirSync(backups, { mode: 0o700 });
  const run = await arbiter(['backup', '--env', envFile, '--to', backups], {}, dir.path);
  assert.equal(run.code, 1);
  assert.equal(run.stdout, '');
  assert.equal(lines(run.stderr).length, 1, run.stderr);
  assert.match(run.stderr, /^backup failed: the copy of arbiter\.db fails the integrity check/);
  assert.deepEqual(readdirSync(backups), []);
});

test('modes: the backup directory and each backup 0700, every file 0600; --keep removes older backups and nothing else', async (t) => {
  const { dir, envFile, data } = setUp();
  t.after(() => dir.remove());
  seedData(data);
  const backups = join(dir.path, 'backups');
  mkdirSync(backups, { mode: 0o700 });
  const old = ['arbiter-2020-01-01T03-15-00Z', 'arbiter-2020-01-02T03-15-00Z', 'arbiter-2020-01-03T03-15-00Z'];
  for (const name of old) {
    mkdirSync(join(backups, name));
    writeFileSync(join(backups, name, 'manifest.json'), '{}');
  }
  const others = ['notes.txt', 'arbiter-2020-01-01T00-00-00Z.tar', 'arbiter-manual'];
  writeFileSync(join(backups, others[0]!), 'kept by hand');
  writeFileSync(join(backups, others[1]!), 'an archive');
  mkdirSync(join(backups, others[2]!));

  const run = await arbiter(['backup', '--env', envFile, '--to', backups, '--keep', '2'], {}, dir.path);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /, 2 kept, 2 removed\)\n$/);
  const made = readdirSync(backups).filter((n) => COMPLETE.test(n) && !old.includes(n));
  assert.equal(made.length, 1);
  assert.deepEqual(readdirSync(backups).sort(), [...others, old[2]!, made[0]!].sort());

  const backup = join(backups, made[0]!);
  assert.equal(mode(backups), 0o700);
  assert.equal(mode(backup), 0o700);
  const files = readdirSync(backup).sort();
  assert.deepEqual(files, ['arbiter.db', 'arbiter.env', 'manifest.json', 'roles.json', 'sessions.db']);
  for (const file of files) assert.equal(mode(join(backup, file)), 0o600, file);
  assert.equal(readFileSync(join(backup, 'arbiter.env'), 'utf8'), readFileSync(envFile, 'utf8'));
  assert.equal(readFileSync(join(backup, 'roles.json'), 'utf8'), readFileSync(join(dir.path, 'roles.json'), 'utf8'));

  const manifest = JSON.parse(readFileSync(join(backup, 'manifest.json'), 'utf8'));
  assert.equal(manifest.arbiterVersion, VERSION);
  assert.equal(manifest.schemaVersion, LATEST);
  assert.ok(!Number.isNaN(Date.parse(manifest.createdAt)));
  assert.deepEqual(manifest.files.map((f: { name: string }) => f.name).sort(), ['arbiter.db', 'arbiter.env', 'roles.json', 'sessions.db']);
  for (const f of manifest.files) {
    assert.equal(f.sha256, sha256(join(backup, f.name)), f.name);
    assert.equal(f.bytes, statSync(join(backup, f.name)).size, f.name);
  }
  assert.equal(deliveryIds(join(backup, 'arbiter.db')).size, 20);
  // A copy is a single self-contained file: reading it leaves no -wal or -shm beside it.
  assert.deepEqual(readdirSync(backup).sort(), files);
});

test('backup refuses a backup directory others can read, and a --keep out of range, with words and nothing made', async (t) => {
  const { dir, envFile, data } = setUp();
  t.after(() => dir.remove());
  seedData(data);
  const open = join(dir.path, 'open');
  mkdirSync(open);
  chmodSync(open, 0o755);
  const loose = await arbiter(['backup', '--env', envFile, '--to', open], {}, dir.path);
  assert.equal(loose.code, 1);
  assert.match(loose.stderr, /^backup failed: .*open is open to other users \(mode 0755\).*chmod 700/);
  assert.deepEqual(readdirSync(open), []);
  assert.equal(mode(open), 0o755);

  for (const keep of ['0', '366', 'seven']) {
    const run = await arbiter(['backup', '--env', envFile, '--to', join(dir.path, 'backups'), '--keep', keep], {}, dir.path);
    assert.equal(run.code, 1, keep);
    assert.match(run.stderr, /--keep must be a whole number from 1 to 365/);
  }
  assert.equal(existsSync(join(dir.path, 'backups')), false);
});

test('restore refuses while Arbiter runs on the DATA_DIR, a second server refuses to start, and the old files are moved aside', { timeout: 120_000 }, async (t) => {
  const { dir, env, envFile, data } = setUp();
  let server: Child | undefined;
  let twin: Child | undefined;
  t.after(async () => {
    await stopChild(server);
    await stopChild(twin);
    dir.remove();
  });
  server = runMain({ ...env, LOG_LEVEL: 'info' }, dir.path);
  const url = await server.url;
  const before = eventBody({ subscription_id: 'sub_before' });
  assert.equal((await post(url, 'msg_before', before)).json.status, 'accepted');

  twin = runMain({ ...env, LOG_LEVEL: 'info' }, dir.path);
  const exit = await twin.exited;
  assert.equal(exit.code, 1);
  assert.match(twin.stderr(), new RegExp(`Arbiter is already running on ${data}`));
  assert.doesNotMatch(twin.stderr(), /\n\s+at /, 'no stack trace');

  const backups = join(dir.path, 'backups');
  const made = await arbiter(['backup', '--env', envFile, '--to', backups], {}, dir.path);
  assert.equal(made.code, 0, made.stderr);
  const backup = join(backups, readdirSync(backups)[0]!);

  const listing = readdirSync(data).sort();
  const refused = await arbiter(['restore', backup, '--env', envFile], {}, dir.path);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, new RegExp(`Arbiter is running on ${data}: stop it first`));
  assert.deepEqual(readdirSync(data).sort(), listing);

  const after = eventBody({ subscription_id: 'sub_after' });
  assert.equal((await post(url, 'msg_after', after)).json.status, 'accepted');
  // A crash leaves the databases with their -wal and -shm files, which must not meet the restored ones.
  server.process.kill('SIGKILL');
  await server.exited;
  assert.ok(existsSync(join(data, 'arbiter.db-wal')));

  const restore = await arbiter(['restore', backup, '--env', envFile], {}, dir.path);
  assert.equal(restore.code, 0, restore.stderr);
  const aside = readdirSync(data).filter((n) => n.startsWith('before-restore-'));
  assert.equal(aside.length, 1);
  assert.match(restore.stdout, new RegExp(join(data, aside[0]!)));
  assert.equal(mode(join(data, aside[0]!)), 0o700);
  assert.deepEqual(readdirSync(data).filter((n) => /-(wal|shm)$/.test(n)), []);
  assert.deepEqual([...deliveryIds(join(data, 'arbiter.db'))], ['msg_before']);
  // The replaced database kept its -wal beside it, so it still holds what only the -wal had.
  assert.ok(existsSync(join(data, aside[0]!, 'arbiter.db-wal')));
  assert.deepEqual([...deliveryIds(join(data, aside[0]!, 'arbiter.db'))].sort(), ['msg_after', 'msg_before']);
});

test('restore refuses a backup whose file does not match its manifest, or made by a newer schema, and changes nothing', async (t) => {
  const { dir, envFile, data } = setUp();
  t.after(() => dir.remove());
  seedData(data);
  const backups = join(dir.path, 'backups');
  const made = await arbiter(['backup', '--env', envFile, '--to', backups], {}, dir.path);
  assert.equal(made.code, 0, made.stderr);
  const backup = join(backups, readdirSync(backups)[0]!);

  const damaged = join(dir.path, 'damaged');
  cpSync(backup, damaged, { recursive: true });
  const size = statSync(join(damaged, 'arbiter.db')).size;
  const fd = openSync(join(damaged, 'arbiter.db'), 'r+');
  writeSync(fd, Buffer.from([0xff]), 0, 1, size - 100);
  closeSync(fd);
  const fresh = join(dir.path, 'fresh');
  const bad = await arbiter(['restore', damaged, '--env', envFile], { DATA_DIR: fresh }, dir.path);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /arbiter\.db does not match its SHA-256 in the manifest/);
  assert.equal(existsSync(fresh), false);

  const future = join(dir.path, 'future');
  const db = openDatabase(join(future, 'arbiter.db'));
  db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from a later Arbiter', '2030-01-01T00:00:00Z')").run(LATEST + 1);
  db.close();
  const futureBackups = join(dir.path, 'future-backups');
  const madeFuture = await arbiter(['backup', '--env', envFile, '--to', futureBackups], { DATA_DIR: future }, dir.path);
  assert.equal(madeFuture.code, 0, madeFuture.stderr);
  const newer = await arbiter(['restore', join(futureBackups, readdirSync(futureBackups)[0]!), '--env', envFile], { DATA_DIR: fresh }, dir.path);
  assert.equal(newer.code, 1);
  assert.match(newer.stderr, new RegExp(`schema version ${LATEST + 1}.*knows up to ${LATEST}`));
  assert.equal(existsSync(fresh), false);

  // Run as root (as a sysadmin may), restore leaves the service user's DATA_DIR with files that user can open.
  if (process.getuid?.() === 0) {
    const owned = join(dir.path, 'owned');
    mkdirSync(owned, { mode: 0o700 });
    chownSync(owned, 65534, 65534);
    const restore = await arbiter(['restore', backup, '--env', envFile], { DATA_DIR: owned }, dir.path);
    assert.equal(restore.code, 0, restore.stderr);
    for (const name of readdirSync(owned)) assert.equal(statSync(join(owned, name)).uid, 65534, name);
  }
});

function runScript(shell: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(shell, [SCRIPT], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('backup.sh runs the same backup for cron: one line and exit 0, or one line on stderr and non-zero', async (t) => {
  const { dir, envFile, data } = setUp();
  t.after(() => dir.remove());
  seedData(data);
  assert.ok(mode(SCRIPT) & 0o100, 'backup.sh is executable');
  const cli = `${process.execPath} --import ${import.meta.resolve('tsx')} ${join(REPO, 'src/cli.ts')}`;
  const env = { ARBITER_CLI: cli, TSX_TSCONFIG_PATH: join(REPO, 'tsconfig.json'), ENV_FILE: envFile, KEEP: '3' };

  const backups = join(dir.path, 'backups');
  const ok = await runScript('bash', { ...env, BACKUP_DIR: backups });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stderr, '');
  assert.equal(lines(ok.stdout).length, 1);
  assert.match(ok.stdout, new RegExp(`^backup ok: ${backups}/arbiter-`));
  assert.equal(readdirSync(backups).length, 1);

  const notADirectory = join(dir.path, 'notes.txt');
  writeFileSync(notADirectory, 'a file where a directory should be');
  const failed = await runScript('sh', { ...env, BACKUP_DIR: join(notADirectory, 'backups') });
  assert.notEqual(failed.code, 0);
  assert.equal(failed.stdout, '');
  assert.equal(lines(failed.stderr).length, 1, failed.stderr);
  assert.match(failed.stderr, /^backup failed: /);
});
