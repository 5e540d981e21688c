import { Router } from 'express';
import { databaseHealthy } from './db/open.js';
import type { Services } from './services.js';

export function healthRoutes(services: Services): Router {
  const router = Router();
  router.get('/health', (_req, res) => {
    const database = databaseHealthy(services.db);
    const now = services.clock.now();
    let jobs: Record<string, number> | 'unknown' = 'unknown';
    try {
      if (database) jobs = services.jobs.counts();
    } catch {
      // counts are a courtesy; the database flag says what matters
    }
    res.status(database ? 200 : 503).json({
      status: database ? 'ok' : 'degraded',
      version: services.version,
      uptime: Math.round((now.getTime() - services.startedAt.getTime()) / 1000),
      timestamp: now.toISOString(),
      database: database ? 'ok' : 'down',
      discord: services.discord?.bot.health() ?? { status: 'not configured' },
      ghost: services.config.ghost ? 'configured' : 'off',
      email: services.mailer.describe(),
      jobs,
    });
  });
  return router;
}
