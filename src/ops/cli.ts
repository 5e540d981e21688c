/**
 * `arbiter <command>`: the sysadmin's door. It reads the same configuration as the server (its environment, or
 * --env FILE), works on the same data and calls the same functions as the panel; each command is a module in
 * commands/.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig, type Config } from '../config.js';
import { isArbiterError } from '../errors.js';
import { createLogger } from '../log.js';
import { createServices, type Services } from '../services.js';
import { EXIT, type CliIo, type Command, type CommandContext, type ExitCode } from './command.js';
import { COMMANDS } from './commands/index.js';

const GLOBAL_OPTIONS: NonNullable<ParseArgsConfig['options']> = {
  env: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

const GLOBAL_HELP = `Options for every command:
  --env FILE        read settings from FILE (as the service's EnvironmentFile); the environment still wins
  -h, --help        show what the command does`;

/** Thrown by a command's context when the configuration is bad: ends the command with 78. */
class ConfigProblem extends Error {}

export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'Usage: arbiter <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    GLOBAL_HELP,
    '',
    'Exit status: 0 done, 1 failed, 78 bad configuration. `arbiter <command> --help` tells more.',
  ].join('\n');
}

function commandHelp(command: Command): string {
  return [`Usage: arbiter ${command.usage}`, '', command.help.trim(), '', GLOBAL_HELP].join('\n');
}

/** `--env FILE` may come before the command too (`arbiter --env FILE stats`); it is then handed to the command. */
function splitLeadingEnv(argv: string[]): { leading: string[]; afterwards: string[] } {
  let at = 0;
  while (at < argv.length) {
    if (argv[at] === '--env' && at + 1 < argv.length) at += 2;
    else if (argv[at]!.startsWith('--env=')) at += 1;
    else break;
  }
  return { leading: argv.slice(0, at), afterwards: argv.slice(at) };
}

export async function runCli(argv: string[], io: CliIo): Promise<ExitCode> {
  const { leading, afterwards } = splitLeadingEnv(argv);
  const [name, ...commandArgs] = afterwards;
  const rest = [...leading, ...commandArgs];
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const asked = name === 'help' && commandArgs[0] ? COMMANDS.find((c) => c.name === commandArgs[0]) : undefined;
    if (name === 'help' && commandArgs[0] && !asked) return wrong(io, `There is no command "${commandArgs[0]}".`);
    io.out(asked ? commandHelp(asked) : usage());
    return name === undefined ? EXIT.failed : EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) return wrong(io, `There is no command "${name}".`);

  let parsed: { values: CommandContext['values']; positionals: string[] };
  try {
    parsed = parseArgs({ args: rest, options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true });
  } catch (err) {
    return wrong(io, `${(err as Error).message}\n\n${commandHelp(command)}`);
  }
  if (parsed.values.help) {
    io.out(commandHelp(command));
    return EXIT.ok;
  }
  const { min, max } = command.positionals ?? { min: 0, max: 0 };
  if (parsed.positionals.length < min || parsed.positionals.length > max) {
    return wrong(io, `${parsed.positionals.length < min ? 'Missing an argument' : `Unexpected argument "${parsed.positionals[max]}"`}.\n\n${commandHelp(command)}`);
  }

  let config: Config | undefined;
  let services: Services | undefined;
  const loadedConfig = (): Config => {
    try {
      config ??= loadConfig(io.env, { cwd: io.cwd, envFile: (parsed.values.env as string | undefined) ?? true });
    } catch (err) {
      if (isArbiterError(err) && err.code === 'config_invalid') throw new ConfigProblem(err.message);
      throw err;
    }
    return config;
  };
  try {
    return await command.run({
      values: parsed.values,
      positionals: parsed.positionals,
      io,
      config: loadedConfig,
      // Log lines go to stderr, so that what a command prints on stdout can be read by a script.
      services: () => (services ??= createServices(loadedConfig(), { log: createLogger(loadedConfig().logLevel === 'silent' ? 'silent' : 'warn', process.stderr, loadedConfig().env) })),
    });
  } catch (err) {
    if (err instanceof ConfigProblem) {
      io.err(err.message);
      return EXIT.config;
    }
    io.err(isArbiterError(err) ? err.message : `arbiter ${name} failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    return EXIT.failed;
  } finally {
    if (services) {
      services.mailer.close();
      services.db.close();
    }
  }
}

function wrong(io: CliIo, message: string): ExitCode {
  io.err(message);
  return EXIT.failed;
}
