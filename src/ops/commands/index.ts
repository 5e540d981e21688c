import type { Command } from '../command.js';
import { statsCommand } from './stats.js';
import { backupCommand } from './backup.js';
import { restoreCommand } from './restore.js';

/** Every command of `arbiter`, in the order `--help` lists them. */
export const COMMANDS: Command[] = [
  statsCommand,
  backupCommand,
  restoreCommand,
];
