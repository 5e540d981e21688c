/**
 * GET /health. Anyone gets the short answer a monitor needs; the details (jobs, email, Ghost, Discord permission
 * problems in words) only a request from this machine, or one that carries METRICS_TOKEN. Who is "this machine" is
 * judged by the client address after TRUST_PROXY: a request that came through nginx is not.
 */
import { Router } from 'express';
import { databaseHealthy } from './db/open.js';
import type { BotHealth } from './discord/bot.js';
import type { ProtocolCheck } from './http/forwarded-proto.js';
import { localOrToken } from './http/local-or-token.js';
import type { Services } from './services.js';

export function healthRoutes(services: Services, protocol: Pick<ProtocolCheck, 'problem'>): Router {
  const router = Router();
  router.get('/health', (req, res) => {
    const database = databaseHealthy(services.db);
    const now = services.clock.now();
    const bot = services.discord?.bot.health();
    const answer: Record<string, unknown> = {
      status: database ? 'ok' : 'degraded',
      version: services.version,
      uptime: Math.round((now.getTime() - services.startedAt.getTime()) / 1000),
      discord: discordState(bot),
      database: database ? 'ok' : 'down',
      timestamp: now.toISOString(),
    };
    if (localOrToken(req, services.config.metricsToken)) {
      let jobs: Record<string, number> | 'unknown' = 'unknown';
      try {
        if (database) jobs = services.jobs.counts();
      } catch {
        // counts are a courtesy; the database state says what matters
      }
      answer.details = {
        discord: bot ?? { status: 'not configured' },
        // A sign-in refused because of DISCORD_CLIENT_ID/SECRET: the bot may be fine while every link fails.
        oauth: services.oauth.lastConfigProblem,
        ghost: services.config.ghost ? 'configured' : 'off',
        email: services.mailer.describe(),
        jobs,
        paused: services.worker.pauses(),
        http: { trustProxy: services.config.trustProxy, problem: protocol.problem() },
      };
    }
    res.status(database ? 200 : 503).json(answer);
  });
  return router;
}

const DISCORD_STATES: Record<string, string> = {
  ready: 'ok',
  starting: 'starting',
  reconnecting: 'reconnecting',
  failed: 'down',
  stopped: 'down',
};

/** The bot's health in one word: which roles are in trouble is for the details only. */
function discordState(health: BotHealth | undefined): string {
  if (!health) return 'not configured';
  if (health.token === 'rejected') return 'down';
  const state = DISCORD_STATES[health.status] ?? 'unknown';
  return state === 'ok' && health.problems.length > 0 ? 'degraded' : state;
}
