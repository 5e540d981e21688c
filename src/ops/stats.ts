/** The numbers `arbiter stats` prints, read in one go from the database. */
import type { Services } from '../services.js';

export interface Stats {
  version: string;
  dataDir: string;
  subscriptions: ReturnType<Services['subscriptions']['counts']>;
  activeByTier: Record<string, number>;
  webhooks: { total: number; last24h: number; byOutcome: Record<string, number> };
  jobs: { kind: string; status: string; count: number; oldestRunAt: string | null }[];
  auditRows: number;
}

export function stats(services: Pick<Services, 'db' | 'subscriptions' | 'clock' | 'version' | 'config'>): Stats {
  const { db } = services;
  const since = new Date(services.clock.now().getTime() - 86_400_000).toISOString();
  const byTier = db.prepare("SELECT tier, COUNT(*) AS n FROM subscriptions WHERE status = 'active' GROUP BY tier ORDER BY tier").all() as { tier: string; n: number }[];
  const byOutcome = db.prepare("SELECT COALESCE(outcome, 'pending') AS outcome, COUNT(*) AS n FROM webhook_events GROUP BY 1 ORDER BY 1").all() as { outcome: string; n: number }[];
  const recent = db.prepare('SELECT COUNT(*) AS n FROM webhook_events WHERE received_at >= ?').get(since) as { n: number };
  const jobs = db
    .prepare('SELECT kind, status, COUNT(*) AS count, MIN(run_at) AS oldestRunAt FROM jobs GROUP BY kind, status ORDER BY kind, status')
    .all() as Stats['jobs'];
  const audit = db.prepare('SELECT COUNT(*) AS n FROM audit_logs').get() as { n: number };
  return {
    version: services.version,
    dataDir: services.config.dataDir,
    subscriptions: services.subscriptions.counts(),
    activeByTier: Object.fromEntries(byTier.map((r) => [r.tier, r.n])),
    webhooks: { total: byOutcome.reduce((sum, r) => sum + r.n, 0), last24h: recent.n, byOutcome: Object.fromEntries(byOutcome.map((r) => [r.outcome, r.n])) },
    jobs,
    auditRows: audit.n,
  };
}
