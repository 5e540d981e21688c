/**
 * One process at a time on a DATA_DIR: the server holds `DATA_DIR/arbiter.lock` while it runs, and `arbiter
 * restore` holds it while it replaces the databases. The lock is SQLite's own exclusive file lock, taken by an
 * open transaction, so the kernel drops it when the process dies: there is no stale pid file to clean up.
 */
import Database from 'better-sqlite3';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_FILE = 'arbiter.lock';

export function dataLockFile(dataDir: string): string {
  return join(dataDir, LOCK_FILE);
}

export interface DataLock {
  file: string;
  release(): void;
}

/** Takes the lock of `dataDir` (created 0700 when missing), or returns undefined when another process holds it. */
export function tryLockDataDir(dataDir: string): DataLock | undefined {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = dataLockFile(dataDir);
  closeSync(openSync(file, 'a', 0o600));
  const db = new Database(file, { timeout: 0 });
  try {
    // No journal file next to it; the lock is all this database is for.
    db.pragma('journal_mode = MEMORY');
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY') return undefined;
    throw err;
  }
  let held = true;
  return {
    file,
    release() {
      if (!held) return;
      held = false;
      db.close();
    },
  };
}
