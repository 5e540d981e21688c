/**
 * Starting and stopping the whole service: services, worker, HTTP server, Discord client and sweep timer. main.ts
 * calls it with the real config; tests call it with theirs.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import type { Config } from './config.js';
import { dataLockFile, tryLockDataDir, type DataLock } from './db/data-lock.js';
import { ArbiterError } from './errors.js';
import { createSessions } from './http/session.js';
import { createServices, type ServiceOverrides, type Services } from './services.js';
import { SWEEP_JOB, SWEEP_KEY } from './roles/jobs.js';
import { scheduleDailyPrune } from './ops/prune.js';

export interface RunningServer {
  services: Services;
  server: Server;
  url: string;
  stop(): Promise<void>;
}

export async function startServer(config: Config, overrides: ServiceOverrides = {}): Promise<RunningServer> {
  // Held until stop: a second Arbiter, or `arbiter restore`, on the same DATA_DIR is refused meanwhile.
  const dataLock = tryLockDataDir(config.dataDir);
  if (!dataLock) {
    throw new ArbiterError('conflict', `Arbiter is already running on ${config.dataDir}: another process holds ${dataLockFile(config.dataDir)}. Stop it first, or give this one another DATA_DIR.`);
  }
  try {
    return await start(config, overrides, dataLock);
  } catch (err) {
    dataLock.release();
    throw err;
  }
}

async function start(config: Config, overrides: ServiceOverrides, dataLock: DataLock): Promise<RunningServer> {
  const services = createServices(config, overrides);
  const { log } = services;
  for (const warning of config.warnings) log.warn(warning);
  const sessions = createSessions(config);
  const discord = services.discord;
  const app = createApp(services, { sessions });
  const server = createServer(app);
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  services.worker.start();
  let sweepTimer: NodeJS.Timeout | undefined;
  if (discord) {
    discord.bot.start();
    const every = config.reconcileIntervalMinutes * 60_000;
    if (every > 0) {
      // A sweep that keeps failing gives up when the next one is due; one waiting for Discord keeps its place.
      const requestSweep = (delayMs: number) =>
        services.jobs.enqueue(SWEEP_JOB, SWEEP_KEY, {}, { runAt: new Date(services.clock.now().getTime() + delayMs), budgetMs: every, keepPayload: true });
      // The first sweep heals whatever changed while Arbiter was down.
      requestSweep(Math.min(every, 60_000));
      sweepTimer = setInterval(() => requestSweep(0), every);
      sweepTimer.unref();
    }
  } else {
    log.warn('Discord is not configured: role changes wait in the job queue');
  }
  const stopPruning = scheduleDailyPrune(services);
  if (!config.ghost) log.info('CMS_URL and CMS_ADMIN_KEY are not set: writing Discord IDs to Ghost is off');
  log.info({ url, appUrl: config.appUrl, version: services.version, email: services.mailer.describe() }, 'Arbiter is listening');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // Stop accepting, let requests in flight finish, then the running jobs, then close what they used.
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      if (sweepTimer) clearInterval(sweepTimer);
      stopPruning();
      await services.worker.stop();
      await discord?.bot.stop();
      await sessions.close();
      services.mailer.close();
      services.db.close();
      dataLock.release();
      log.info('Arbiter stopped');
    })());
  return { services, server, url, stop };
}
