import { createRequire } from 'node:module';
import { pino, type Logger, type LevelWithSilent, type LoggerOptions } from 'pino';

export type { Logger };

/** Keys whose values never reach a log line, wherever they appear. */
const REDACT = [
  'token', 'rawToken', 'code', 'state', 'secret', 'password', 'pass', 'cookie', 'authorization', 'access_token',
  'refresh_token', 'client_secret',
].flatMap((key) => [key, `*.${key}`, `*.*.${key}`]);

/** pino-pretty is a dev dependency: an install without them (npm ci --omit=dev) has none. */
function prettyPrinter(): string | undefined {
  try {
    return createRequire(import.meta.url).resolve('pino-pretty');
  } catch {
    return undefined;
  }
}

/**
 * JSON lines (one object per event, for journald and whatever reads it), except in development (`env`, the Config's
 * env), where lines written to stdout or stderr are printed for people by pino-pretty. Redaction happens here, before
 * the printer sees a line. Pretty printing runs in a worker thread that writes to the file descriptor, so another
 * destination (a test's stream) always gets JSON.
 */
export function createLogger(level: LevelWithSilent = 'info', destination?: NodeJS.WritableStream, env?: string): Logger {
  const options: LoggerOptions = {
    level,
    base: { service: 'arbiter' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACT, censor: '[redacted]' },
  };
  const stream = destination ?? process.stdout;
  const fd = stream === process.stdout ? 1 : stream === process.stderr ? 2 : undefined;
  if (env !== 'development' || level === 'silent' || fd === undefined) return pino(options, stream);

  const target = prettyPrinter();
  if (target === undefined) {
    const log = pino(options, stream);
    log.warn('pino-pretty is not installed (an install without dev dependencies): the log is JSON lines');
    return log;
  }
  return pino({
    ...options,
    transport: {
      target,
      options: {
        destination: fd,
        colorize: (stream as NodeJS.WriteStream).isTTY === true,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'service',
        singleLine: true,
      },
    },
  });
}

/** A logger that drops everything, for tests that do not read logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
