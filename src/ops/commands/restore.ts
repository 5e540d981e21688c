import { resolve } from 'node:path';
import { reason } from '../backup.js';
import { EXIT, type Command } from '../command.js';
import { restore, type RestoreResult } from '../restore.js';

export const restoreCommand: Command = {
  name: 'restore',
  summary: 'put a backup made by `arbiter backup` back into DATA_DIR (Arbiter stopped)',
  usage: 'restore <backup-dir>',
  help: `Checks the backup first: its manifest, each file's size and SHA-256, PRAGMA integrity_check of each
database, and that its schema is not newer than this Arbiter knows. Then puts arbiter.db and sessions.db into
DATA_DIR (created with mode 0700 if missing; files 0600). Databases already there are moved, with their -wal
and -shm files, to DATA_DIR/before-restore-<UTC time>/, never deleted.

Arbiter must be stopped: while it runs on DATA_DIR (it holds DATA_DIR/arbiter.lock) the restore is refused and
nothing changes, and Arbiter cannot start while a restore runs.

The environment file and roles.json are not overwritten: their copies stay in the backup, and the command says
where, to compare with the live files by hand. Then start Arbiter and check /health and \`arbiter stats\`.

  <backup-dir>   a directory made by arbiter backup, e.g. /var/backups/arbiter/arbiter-2026-12-01T03-00-00Z`,
  positionals: { min: 1, max: 1 },
  async run({ positionals, values, io, config }) {
    const { dataDir, rolesFile } = config();
    let result: RestoreResult;
    try {
      result = restore({ backupDir: resolve(io.cwd, positionals[0]!), dataDir });
    } catch (err) {
      io.err(`restore failed: ${reason(err)}`);
      return EXIT.failed;
    }
    const { manifest } = result;
    const envFile = values.env as string | undefined;
    const lines = [
      `restore ok: ${dataDir} now holds the backup made ${manifest.createdAt} by Arbiter ${manifest.arbiterVersion} (schema version ${manifest.schemaVersion})`,
      result.movedAside ? `The files it replaced are in ${result.movedAside}` : 'There was no database to replace.',
    ];
    if (result.notRestored.length > 0) {
      lines.push('', 'Not restored: compare these copies with the live files, and copy by hand what should come back:');
      for (const file of result.notRestored) {
        const live = file.kind === 'roles' ? rolesFile : envFile ? resolve(io.cwd, envFile) : file.source;
        lines.push(`  diff ${file.path} ${live}`);
      }
    }
    lines.push('', 'Then start Arbiter (systemctl start arbiter) and check /health and `arbiter stats`.');
    io.out(lines.join('\n'));
    return EXIT.ok;
  },
};
