import { EXIT, type Command } from '../command.js';
import { stats } from '../stats.js';

export const statsCommand: Command = {
  name: 'stats',
  summary: 'counts of subscriptions, deliveries, jobs and audit rows',
  usage: 'stats [--json]',
  help: `Prints what the database holds: subscriptions by state and tier, webhook deliveries by outcome (all time
and the last 24 hours), jobs by kind and state with the oldest waiting one, and the size of the audit log.
Reads only; safe while Arbiter runs.

  --json   print the same as one JSON object`,
  options: { json: { type: 'boolean' } },
  async run({ values, io, services }) {
    const report = stats(services());
    io.out(values.json ? JSON.stringify(report, null, 2) : describeStats(report));
    return EXIT.ok;
  },
};

function describeStats(report: ReturnType<typeof stats>): string {
  const lines = [`Arbiter ${report.version}, data in ${report.dataDir}`, ''];
  const s = report.subscriptions;
  lines.push(`Subscriptions: ${s.active} active (${s.linked} linked to Discord, ${s.unlinked} waiting for a link), ${s.suspended} suspended, ${s.cancelled} cancelled`);
  for (const [tier, n] of Object.entries(report.activeByTier)) lines.push(`  ${tier}: ${n} active`);
  lines.push('', `Webhook deliveries: ${report.webhooks.total} in all, ${report.webhooks.last24h} in the last 24 hours`);
  for (const [outcome, n] of Object.entries(report.webhooks.byOutcome)) lines.push(`  ${outcome}: ${n}`);
  lines.push('', 'Jobs:');
  if (report.jobs.length === 0) lines.push('  none');
  for (const j of report.jobs) lines.push(`  ${j.kind} ${j.status}: ${j.count}${j.oldestRunAt && j.status === 'pending' ? ` (oldest due ${j.oldestRunAt})` : ''}`);
  lines.push('', `Audit log: ${report.auditRows} rows`);
  return lines.join('\n');
}
