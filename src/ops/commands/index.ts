import type { Command } from '../command.js';
import { statsCommand } from './stats.js';
import { pruneCommand } from './prune.js';
import { eraseCommand } from './erase.js';

/** Every command of `arbiter`, in the order `--help` lists them. */
export const COMMANDS: Command[] = [
  statsCommand,
  pruneCommand,
  eraseCommand,
];
