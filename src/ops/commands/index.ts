import type { Command } from '../command.js';
import { checkConfigCommand } from './check-config.js';
import { reconcileCommand } from './reconcile.js';
import { resendLinkCommand } from './resend-link.js';
import { statsCommand } from './stats.js';

/** Every command of `arbiter`, in the order `--help` lists them. */
export const COMMANDS: Command[] = [
  statsCommand,
  checkConfigCommand,
  reconcileCommand,
  resendLinkCommand,
];
