/** The dashboard's numbers and states, read from the database and the bot's last permission check. */
import type { AuditRow } from '../audit/log.js';
import { GHOST_SYNC_JOB } from '../ghost/sync.js';
import type { KindSummary } from '../jobs/queue.js';
import { LINK_EMAIL_JOB } from '../linking/link-email.js';
import type { Services } from '../services.js';

export const INVALID_WINDOW_DAYS = 7;

export interface Dashboard {
  subscriptions: ReturnType<Services['subscriptions']['counts']>;
  jobs: { pending: number; dead: number };
  invalidDeliveries: number;
  discord:
    | { configured: false }
    | {
        configured: true;
        connection: string;
        inGuild: boolean | null;
        manageRoles: boolean | null;
        roles: { id: string; name: string | null; manageable: boolean }[] | null;
        problems: string[];
        checkedAt: string | null;
      };
  ghost: { configured: boolean; work: KindSummary };
  email: { transport: string; work: KindSummary };
  recent: AuditRow[];
}

export function dashboard(services: Services): Dashboard {
  const { subscriptions, jobs, webhookEvents, audit, clock, config } = services;
  const counts = jobs.counts();
  const bot = services.discord?.bot;
  const health = bot?.health();
  return {
    subscriptions: subscriptions.counts(),
    jobs: { pending: counts.pending + counts.running, dead: counts.dead },
    invalidDeliveries: webhookEvents.countSince('invalid', new Date(clock.now().getTime() - INVALID_WINDOW_DAYS * 86_400_000)),
    discord:
      bot && health
        ? {
            configured: true,
            connection: health.token === 'rejected' ? 'bot token rejected' : health.status,
            inGuild: health.inGuild,
            manageRoles: health.manageRoles,
            roles: bot.report()?.roles ?? null,
            problems: health.problems,
            checkedAt: health.checkedAt,
          }
        : { configured: false },
    ghost: { configured: config.ghost !== null, work: jobs.summary(GHOST_SYNC_JOB) },
    email: { transport: services.mailer.describe(), work: jobs.summary(LINK_EMAIL_JOB) },
    recent: audit.list({ limit: 15 }),
  };
}
