import { closeSync, fchmodSync, fsyncSync, linkSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';

/**
 * Writes a file whole: to a temporary file beside it with `mode`, synced, then renamed over it, so that a reader
 * sees the old file or the new one, never half. With `exclusive` it is linked instead, which refuses to replace a
 * file that another process made meanwhile: false then, and nothing is written.
 */
export function writeWhole(path: string, text: string, options: { mode: number; exclusive?: boolean }): boolean {
  const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
  const fd = openSync(temporary, 'wx', 0o600);
  try {
    try {
      writeSync(fd, text);
      fchmodSync(fd, options.mode);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (!options.exclusive) {
      renameSync(temporary, path);
      return true;
    }
    try {
      linkSync(temporary, path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
  } finally {
    rmSync(temporary, { force: true });
  }
}
