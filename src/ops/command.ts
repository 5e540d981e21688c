/** What every CLI command is made of, and what it is given to run. */
import type { ParseArgsConfig } from 'node:util';
import type { Config } from '../config.js';
import type { Services } from '../services.js';

/** 0 done, 1 failed (or asked wrongly), 78 bad configuration: the same EX_CONFIG as the server. */
export const EXIT = { ok: 0, failed: 1, config: 78 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface CommandContext {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
  io: CliIo;
  /** The server's own configuration, loaded on first use; a problem ends the command with exit status 78. */
  config(): Config;
  /** The server's services on the same data, built on first use and closed when the command ends. */
  services(): Services;
}

export interface Command {
  name: string;
  /** One line for the list of commands. */
  summary: string;
  /** The synopsis after `arbiter `, e.g. `erase <email>`. */
  usage: string;
  /** What it does, its options and what it prints, for `--help`. */
  help: string;
  options?: ParseArgsConfig['options'];
  /** How many positional arguments it takes. */
  positionals?: { min: number; max: number };
  run(context: CommandContext): Promise<ExitCode>;
}
