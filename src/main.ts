import { loadConfig } from './config.js';
import { isArbiterError } from './errors.js';
import { createLogger } from './log.js';
import { startServer } from './server.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (isArbiterError(err) && err.code === 'config_invalid') {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG: systemd does not restart on it in a loop (RestartPreventExitStatus)
    }
    throw err;
  }
  const log = createLogger(config.logLevel, process.stdout, config.env);
  const running = await startServer(config, { log });
  let stopping = false;
  const shutdown = (signal: string) => {
    // Ctrl-C on `npm run dev` signals both npm and Arbiter, and npm passes it on: one shutdown, not cut short.
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      log.error('shutdown took longer than 25 s; exiting');
      process.exit(1);
    }, 25_000);
    force.unref();
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  // An ArbiterError says in words what is wrong; anything else is unexpected and its stack helps.
  process.stderr.write(`Arbiter failed to start: ${isArbiterError(err) ? err.message : err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
