import { resolve } from 'node:path';
import { VERSION } from '../../services.js';
import { backup, DEFAULT_BACKUP_DIR, DEFAULT_KEEP, MAX_KEEP, reason, type BackupResult } from '../backup.js';
import { EXIT, type Command } from '../command.js';

export const backupCommand: Command = {
  name: 'backup',
  summary: 'consistent copies of the databases, checked, with the environment and roles files',
  usage: 'backup [--to DIR] [--keep N]',
  help: `Copies DATA_DIR/arbiter.db and DATA_DIR/sessions.db with SQLite's online backup API (safe while Arbiter
runs), checks each copy with PRAGMA integrity_check, and keeps it only if it passes. The file named by --env
and ROLES_FILE are copied too, with a manifest (version, time, schema version, sizes and SHA-256) that
\`arbiter restore\` checks.

Each run makes DIR/arbiter-<UTC time>, e.g. arbiter-2026-12-01T03-00-00Z (mode 0700, files 0600), under a
temporary name until it is complete, then removes the oldest such directories beyond --keep. Nothing else in
DIR is touched. DIR is created with mode 0700; an existing DIR that other users may read is refused.

  --to DIR    where backups go (default ${DEFAULT_BACKUP_DIR})
  --keep N    how many backups to keep, 1 to ${MAX_KEEP} (default ${DEFAULT_KEEP})

Prints one line: "backup ok: <directory> (...)" on stdout, or "backup failed: <why>" on stderr with exit
status 1. For cron: backup.sh.`,
  options: { to: { type: 'string' }, keep: { type: 'string' } },
  async run({ values, io, config }) {
    const keepText = values.keep as string | undefined;
    const keep = keepText === undefined ? DEFAULT_KEEP : /^\d{1,3}$/.test(keepText) ? Number(keepText) : Number.NaN;
    const to = values.to as string | undefined;
    if (!Number.isInteger(keep) || keep < 1 || keep > MAX_KEEP) return failed(io.err, `--keep must be a whole number from 1 to ${MAX_KEEP} (not "${keepText}")`);
    if (to !== undefined && to.trim() === '') return failed(io.err, '--to needs a directory');
    const { dataDir, rolesFile } = config();
    const envFile = values.env as string | undefined;
    let result: BackupResult;
    try {
      result = await backup({
        dataDir,
        rolesFile,
        envFile: envFile === undefined ? undefined : resolve(io.cwd, envFile),
        to: resolve(io.cwd, to ?? DEFAULT_BACKUP_DIR),
        keep,
        version: VERSION,
      });
    } catch (err) {
      return failed(io.err, reason(err));
    }
    const sizes = result.manifest.files.filter((f) => f.kind === 'database').map((f) => `${f.name} ${formatBytes(f.bytes)}`);
    io.out(`backup ok: ${result.dir} (${[...sizes, `${result.kept} kept`, `${result.removed.length} removed`].join(', ')})`);
    return EXIT.ok;
  },
};

function failed(err: (text: string) => void, why: string) {
  err(`backup failed: ${why}`);
  return EXIT.failed;
}

/** 1.2 MB, 40 kB, 512 B: decimal units, as ls -lh --si and most people count. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 || value >= 100 ? Math.round(value) : Number(value.toFixed(1))} ${units[unit]}`;
}
