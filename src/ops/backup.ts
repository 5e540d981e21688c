/**
 * Backups of a DATA_DIR while Arbiter runs: arbiter.db and sessions.db copied with SQLite's online backup API
 * (never as files, which would tear a live WAL database), each copy checked with integrity_check before it is
 * kept, the environment and roles files beside them, and a manifest that `arbiter restore` checks. A backup is
 * made under a hidden name and renamed when complete, so a half-made one never looks like a backup.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { migrations } from '../db/migrations.js';
import { ArbiterError } from '../errors.js';

export const DEFAULT_BACKUP_DIR = '/var/backups/arbiter';
export const DEFAULT_KEEP = 7;
export const MAX_KEEP = 365;
export const DATABASES = ['arbiter.db', 'sessions.db'] as const;
export const ENV_COPY = 'arbiter.env';
export const ROLES_COPY = 'roles.json';
export const MANIFEST = 'manifest.json';
/** Only directories named like this are backups this tool made, and only they are ever pruned. */
export const BACKUP_NAME = /^arbiter-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ$/;
const PARTIAL = /^\.partial-arbiter-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ-(\d+)$/;
/** The highest schema version this Arbiter knows. */
export const LATEST_SCHEMA = Math.max(...migrations.map((m) => m.version));

export interface ManifestFile {
  name: (typeof DATABASES)[number] | typeof ENV_COPY | typeof ROLES_COPY;
  kind: 'database' | 'environment' | 'roles';
  /** Where it was copied from. */
  source: string;
  bytes: number;
  sha256: string;
}

export interface Manifest {
  format: 1;
  arbiterVersion: string;
  createdAt: string;
  schemaVersion: number;
  dataDir: string;
  files: ManifestFile[];
}

export interface BackupOptions {
  dataDir: string;
  rolesFile: string;
  /** The environment file the configuration was read from, when one was named. */
  envFile: string | undefined;
  to: string;
  keep: number;
  version: string;
  now?: Date;
}

export interface BackupResult {
  dir: string;
  manifest: Manifest;
  /** Backups in the directory after pruning, this one included. */
  kept: number;
  removed: string[];
}

export async function backup(options: BackupOptions): Promise<BackupResult> {
  const { dataDir, to: root } = options;
  if (!Number.isInteger(options.keep) || options.keep < 1 || options.keep > MAX_KEEP) {
    throw new ArbiterError('bad_request', `--keep must be a whole number from 1 to ${MAX_KEEP}`);
  }
  const source = join(dataDir, 'arbiter.db');
  if (!existsSync(source)) throw new ArbiterError('bad_request', `there is no database at ${source} (is DATA_DIR right?)`);
  prepareRoot(root);
  removeAbandoned(root);

  const createdAt = options.now ?? new Date();
  const name = `arbiter-${timestamp(createdAt)}`;
  const dir = join(root, name);
  if (existsSync(dir)) throw new ArbiterError('conflict', `${dir} already exists: a backup was made in this same second`);
  const partial = join(root, `.partial-${name}-${process.pid}`);
  try {
    mkdirSync(partial, { mode: 0o700 });
  } catch (err) {
    throw new ArbiterError('internal', `cannot write in ${root}: ${reason(err)}`);
  }

  try {
    const files: ManifestFile[] = [];
    let schemaVersion = 0;
    for (const db of DATABASES) {
      const from = join(dataDir, db);
      // sessions.db appears at the server's first start; sign-ins are all it holds.
      if (db === 'sessions.db' && !existsSync(from)) continue;
      const copy = join(partial, db);
      await copyDatabase(from, copy);
      const problems = checkCopy(copy);
      if (problems.length > 0) {
        throw new ArbiterError(
          'internal',
          `the copy of ${db} fails the integrity check (${problems.slice(0, 3).join('; ')}${problems.length > 3 ? '; ...' : ''}): the database in ${dataDir} may be damaged (check it with: sqlite3 ${from} 'PRAGMA integrity_check'); nothing was kept`,
        );
      }
      if (db === 'arbiter.db') schemaVersion = readSchemaVersion(copy, from);
      files.push(describe(copy, db, 'database', from));
    }
    if (options.envFile) files.push(copyPrivate(options.envFile, join(partial, ENV_COPY), ENV_COPY, 'environment', 'the environment file'));
    files.push(copyPrivate(options.rolesFile, join(partial, ROLES_COPY), ROLES_COPY, 'roles', 'the roles file'));

    const manifest: Manifest = { format: 1, arbiterVersion: options.version, createdAt: createdAt.toISOString(), schemaVersion, dataDir, files };
    writeFileSync(join(partial, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(join(partial, MANIFEST), 0o600);
    for (const file of readdirSync(partial)) syncPath(join(partial, file));
    syncPath(partial);
    renameSync(partial, dir);
    syncPath(root);

    const removed = prune(root, options.keep, name);
    const kept = readdirSync(root).filter((n) => isBackup(root, n)).length;
    return { dir, manifest, kept, removed };
  } catch (err) {
    rmSync(partial, { recursive: true, force: true });
    throw err;
  }
}

/** `2026-12-01T03:00:00.123Z` -> `2026-12-01T03-00-00Z`: a name that sorts by time and needs no quoting. */
export function timestamp(at: Date): string {
  return `${at.toISOString().slice(0, 19).replace(/:/g, '-')}Z`;
}

/**
 * The backup directory holds secrets (the environment file, every subscriber's email): made 0700 when missing.
 * One that others may enter is refused rather than changed, since it may be a directory other things share.
 */
function prepareRoot(root: string): void {
  let stat;
  try {
    stat = statSync(root);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ArbiterError('internal', `cannot use ${root}: ${reason(err)}`);
    try {
      mkdirSync(root, { recursive: true, mode: 0o700 });
    } catch (mkdirErr) {
      throw new ArbiterError('internal', `cannot create ${root}: ${reason(mkdirErr)}`);
    }
    return;
  }
  if (!stat.isDirectory()) throw new ArbiterError('bad_request', `${root} is not a directory`);
  const mode = stat.mode & 0o777;
  if (mode & 0o077) {
    throw new ArbiterError(
      'bad_request',
      `${root} is open to other users (mode ${mode.toString(8).padStart(4, '0')}) and backups hold secrets: run chmod 700 ${root}, or choose another --to`,
    );
  }
}

/** Half-made backups of runs that died (their process is gone) are removed; a running one's is left alone. */
function removeAbandoned(root: string): void {
  for (const entry of readdirSync(root)) {
    const pid = PARTIAL.exec(entry)?.[1];
    if (pid !== undefined && !processAlive(Number(pid))) rmSync(join(root, entry), { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** More pages than any database has: the whole copy is made in one step, within one read transaction. */
const ALL_PAGES = 0x7fffffff;

async function copyDatabase(from: string, to: string): Promise<void> {
  let source: Database.Database;
  try {
    source = new Database(from, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new ArbiterError('internal', `cannot open ${from}: ${reason(err)}`);
  }
  try {
    // In one step the copy is a single snapshot: writers (WAL) do not wait for it, and their commits cannot
    // restart it the way they restart a copy made in many small steps.
    await source.backup(to, { progress: () => ALL_PAGES });
  } catch (err) {
    throw new ArbiterError('internal', `cannot copy ${from}: ${reason(err)}`);
  } finally {
    source.close();
  }
}

/**
 * Turns the copy into a rollback-journal database (it inherits WAL mode from its source), so that it is one
 * self-contained file that can be opened read-only without leaving -wal and -shm beside it; then opens it again,
 * on its own, for integrity_check. Returns what is wrong, or nothing.
 */
export function checkCopy(file: string): string[] {
  try {
    const db = new Database(file, { fileMustExist: true });
    try {
      db.pragma('journal_mode = DELETE');
    } finally {
      db.close();
    }
    chmodSync(file, 0o600);
    return integrityProblems(file);
  } catch (err) {
    return [reason(err)];
  }
}

/** integrity_check on its own read-only connection. */
export function integrityProblems(file: string): string[] {
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      const rows = db.pragma('integrity_check') as { integrity_check: string }[];
      return rows.map((r) => r.integrity_check).filter((r) => r !== 'ok');
    } finally {
      db.close();
    }
  } catch (err) {
    return [reason(err)];
  }
}

export function readSchemaVersion(file: string, shownAs: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT MAX(version) FROM schema_migrations').pluck().get() as number | null) ?? 0;
  } catch {
    throw new ArbiterError('bad_request', `${shownAs} is not an Arbiter database: it has no schema_migrations table`);
  } finally {
    db.close();
  }
}

function copyPrivate(from: string, to: string, name: ManifestFile['name'], kind: ManifestFile['kind'], what: string): ManifestFile {
  let data: Buffer;
  try {
    data = readFileSync(from);
  } catch (err) {
    throw new ArbiterError('internal', `cannot read ${what} ${from}: ${reason(err)}`);
  }
  writeFileSync(to, data, { mode: 0o600, flag: 'wx' });
  chmodSync(to, 0o600);
  return describe(to, name, kind, from);
}

function describe(file: string, name: ManifestFile['name'], kind: ManifestFile['kind'], source: string): ManifestFile {
  return { name, kind, source, bytes: statSync(file).size, sha256: sha256File(file) };
}

export function sha256File(file: string): string {
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(file, 'r');
  try {
    for (let n; (n = readSync(fd, buffer, 0, buffer.length, null)) > 0; ) hash.update(buffer.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** fsync of a file or a directory (so that a rename in it is on disk too). */
export function syncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function isBackup(root: string, name: string): boolean {
  return BACKUP_NAME.test(name) && lstatSync(join(root, name)).isDirectory();
}

/** Removes the oldest backups beyond `keep` (by their names, which sort by time); never the one just made. */
function prune(root: string, keep: number, made: string): string[] {
  const backups = readdirSync(root).filter((n) => isBackup(root, n)).sort();
  const removed = backups.slice(0, Math.max(0, backups.length - keep)).filter((n) => n !== made);
  for (const name of removed) rmSync(join(root, name), { recursive: true, force: true });
  return removed.map((n) => join(root, n));
}

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'it is a directory',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  EEXIST: 'it already exists',
};

/** What went wrong, in words, on one line: a system error by its meaning, an SQLite error by its message. */
export function reason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code && REASONS[code]) return REASONS[code];
  return (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');
}
