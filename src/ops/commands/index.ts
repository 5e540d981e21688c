import type { Command } from '../command.js';
import { apiKeyCommand } from './api-key.js';
import { backupCommand } from './backup.js';
import { checkConfigCommand } from './check-config.js';
import { eraseCommand } from './erase.js';
import { oidcCommand } from './oidc.js';
import { pruneCommand } from './prune.js';
import { reconcileCommand } from './reconcile.js';
import { resendLinkCommand } from './resend-link.js';
import { restoreCommand } from './restore.js';
import { statsCommand } from './stats.js';

/** Every command of `arbiter`, in the order `--help` lists them. */
export const COMMANDS: Command[] = [
  checkConfigCommand,
  statsCommand,
  reconcileCommand,
  resendLinkCommand,
  backupCommand,
  restoreCommand,
  pruneCommand,
  eraseCommand,
  apiKeyCommand,
  oidcCommand,
];
