/**
 * Puts a backup made by `arbiter backup` back into DATA_DIR. The backup is checked whole first (manifest, sizes,
 * SHA-256, integrity_check, schema version); then, holding DATA_DIR's lock so that Arbiter cannot be running or
 * start meanwhile, the databases in place are moved aside (with their -wal and -shm files, which belong to them)
 * and the copies take their place. The environment and roles files are never overwritten: the caller is told
 * where their copies are.
 */
import { chmodSync, chownSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { dataLockFile, tryLockDataDir } from '../db/data-lock.js';
import { ArbiterError } from '../errors.js';
import {
  DATABASES,
  ENV_COPY,
  integrityProblems,
  LATEST_SCHEMA,
  MANIFEST,
  readSchemaVersion,
  reason,
  ROLES_COPY,
  sha256File,
  syncPath,
  timestamp,
  type Manifest,
  type ManifestFile,
} from './backup.js';

const KIND_OF: Record<ManifestFile['name'], ManifestFile['kind']> = {
  'arbiter.db': 'database',
  'sessions.db': 'database',
  [ENV_COPY]: 'environment',
  [ROLES_COPY]: 'roles',
};

const ManifestSchema = z.object({
  format: z.literal(1, { error: 'must be 1 (a backup made by a newer Arbiter?)' }),
  arbiterVersion: z.string(),
  createdAt: z.string(),
  schemaVersion: z.number().int(),
  dataDir: z.string(),
  files: z
    .array(
      z.object({
        name: z.enum([...DATABASES, ENV_COPY, ROLES_COPY]),
        kind: z.enum(['database', 'environment', 'roles']),
        source: z.string(),
        bytes: z.number().int().nonnegative(),
        sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 hex digits'),
      }),
    )
    .refine((files) => new Set(files.map((f) => f.name)).size === files.length, 'a file is listed twice')
    .refine((files) => files.every((f) => f.kind === KIND_OF[f.name]), 'a file is listed with the wrong kind')
    .refine((files) => files.some((f) => f.name === 'arbiter.db'), 'arbiter.db is not listed'),
});

export interface RestoreOptions {
  backupDir: string;
  dataDir: string;
  now?: Date;
}

export interface RestoreResult {
  dataDir: string;
  manifest: Manifest;
  /** The databases put in place. */
  restored: string[];
  /** Where the files they replaced went, if there were any. */
  movedAside: string | undefined;
  /** Copies of the environment and roles files, left in the backup for a person to compare. */
  notRestored: (ManifestFile & { path: string })[];
}

/** Files that belong to a database in DATA_DIR and go aside with it. */
const COMPANIONS = ['', '-wal', '-shm', '-journal'];

export function restore(options: RestoreOptions): RestoreResult {
  const { backupDir, dataDir } = options;
  const manifest = readManifest(backupDir);
  for (const file of manifest.files) verifyFile(backupDir, file);
  const databases = manifest.files.filter((f) => f.kind === 'database');
  for (const file of databases) verifyDatabase(backupDir, file.name);
  const schema = readSchemaVersion(join(backupDir, 'arbiter.db'), join(backupDir, 'arbiter.db'));
  if (schema > LATEST_SCHEMA) {
    throw new ArbiterError(
      'bad_request',
      `${backupDir} was made by a newer Arbiter (${manifest.arbiterVersion}): its database has schema version ${schema}, and this Arbiter knows up to ${LATEST_SCHEMA}. Restore it with that version or a later one.`,
    );
  }

  const lock = tryLockDataDir(dataDir);
  if (!lock) throw new ArbiterError('conflict', `Arbiter is running on ${dataDir}: stop it first (systemctl stop arbiter), then restore. Nothing was changed.`);
  const staged: string[] = [];
  try {
    const owner = ownerFor(dataDir);
    if (owner) chownSync(dataLockFile(dataDir), owner.uid, owner.gid);
    for (const file of databases) {
      const stage = join(dataDir, `.restore-${file.name}`);
      staged.push(stage);
      copyFileSync(join(backupDir, file.name), stage);
      chmodSync(stage, 0o600);
      if (owner) chownSync(stage, owner.uid, owner.gid);
      syncPath(stage);
      if (sha256File(stage) !== file.sha256) throw new ArbiterError('internal', `the copy of ${file.name} written to ${dataDir} differs from the backup: is the disk full or failing?`);
    }

    const replaced = DATABASES.flatMap((db) => COMPANIONS.map((suffix) => `${db}${suffix}`)).filter((name) => existsSync(join(dataDir, name)));
    let movedAside: string | undefined;
    if (replaced.length > 0) {
      movedAside = asideDir(dataDir, options.now ?? new Date());
      mkdirSync(movedAside, { mode: 0o700 });
      if (owner) chownSync(movedAside, owner.uid, owner.gid);
      for (const name of replaced) renameSync(join(dataDir, name), join(movedAside, name));
      syncPath(movedAside);
    }
    for (const file of databases) renameSync(join(dataDir, `.restore-${file.name}`), join(dataDir, file.name));
    syncPath(dataDir);

    return {
      dataDir,
      manifest,
      restored: databases.map((f) => join(dataDir, f.name)),
      movedAside,
      notRestored: manifest.files.filter((f) => f.kind !== 'database').map((f) => ({ ...f, path: join(backupDir, f.name) })),
    };
  } catch (err) {
    for (const stage of staged) rmSync(stage, { force: true });
    if (err instanceof ArbiterError) throw err;
    throw new ArbiterError('internal', `restoring into ${dataDir} failed: ${reason(err)}`);
  } finally {
    lock.release();
  }
}

function readManifest(backupDir: string): Manifest {
  if (!existsSync(backupDir) || !statSync(backupDir).isDirectory()) throw new ArbiterError('bad_request', `${backupDir} is not a directory`);
  const file = join(backupDir, MANIFEST);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ArbiterError('bad_request', `${backupDir} is not a backup made by arbiter backup: cannot read ${MANIFEST} (${reason(err)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ArbiterError('bad_request', `${file} is not valid JSON`);
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) {
    throw new ArbiterError('bad_request', `${file} is not a manifest of arbiter backup: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'files'}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

function verifyFile(backupDir: string, file: ManifestFile): void {
  const path = join(backupDir, file.name);
  if (!existsSync(path)) throw new ArbiterError('bad_request', `${path} is missing from the backup`);
  const bytes = statSync(path).size;
  if (bytes !== file.bytes) throw new ArbiterError('bad_request', `${path} is ${bytes} bytes, but the manifest says ${file.bytes}: the backup is damaged or was changed; use another one`);
  if (sha256File(path) !== file.sha256) throw new ArbiterError('bad_request', `${path} does not match its SHA-256 in the manifest: the backup is damaged or was changed; use another one`);
}

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

function verifyDatabase(backupDir: string, name: string): void {
  const path = join(backupDir, name);
  const head = Buffer.alloc(20);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  // Bytes 18 and 19 are 1 in a rollback-journal database, as `arbiter backup` leaves its copies; opening one in
  // WAL mode (2) would leave -wal and -shm files in the backup.
  if (!head.subarray(0, 16).equals(SQLITE_HEADER) || head[18] !== 1 || head[19] !== 1) {
    throw new ArbiterError('bad_request', `${path} is not a database copy made by arbiter backup`);
  }
  const problems = integrityProblems(path);
  if (problems.length > 0) throw new ArbiterError('bad_request', `${path} fails the integrity check (${problems.slice(0, 3).join('; ')}): use another backup`);
}

/**
 * Run as root, restore gives what it makes to the owner of DATA_DIR (the service user), who could not open
 * root's 0600 files otherwise.
 */
function ownerFor(dataDir: string): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const { uid, gid } = statSync(dataDir);
  return uid === 0 ? undefined : { uid, gid };
}

function asideDir(dataDir: string, now: Date): string {
  const base = join(dataDir, `before-restore-${timestamp(now)}`);
  let dir = base;
  for (let n = 2; existsSync(dir); n++) dir = `${base}-${n}`;
  return dir;
}
