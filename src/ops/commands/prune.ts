import { EXIT, type Command } from '../command.js';
import { JOB_KEEP_DAYS, prune, TOKEN_KEEP_DAYS, type PruneResult } from '../prune.js';

export const pruneCommand: Command = {
  name: 'prune',
  summary: 'remove old link tokens, finished jobs and webhook payloads now',
  usage: 'prune [--dry-run]',
  help: `Does now what Arbiter does by itself once a day: removes link tokens that expired or were used more than
${TOKEN_KEEP_DAYS} days ago (keeping the newest of each subscription), jobs that finished (done, or failed for good) more than
${JOB_KEEP_DAYS} days ago, and the payloads of webhook deliveries received more than RETENTION_DAYS days ago (90 unless set).
A delivery's row stays without its payload, so that the billing system's retries are still recognised. Expired
OpenID Connect records (sign-in sessions, grants, codes, tokens) are removed too. The audit log is kept. Safe while
Arbiter runs: the work is done in short batches.

  --dry-run   count what would be removed and change nothing`,
  options: { 'dry-run': { type: 'boolean' } },
  async run({ values, io, services }) {
    io.out(describePrune(await prune(services(), { dryRun: values['dry-run'] === true })));
    return EXIT.ok;
  },
};

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

export function describePrune({ dryRun, counts, retentionDays }: PruneResult): string {
  const { linkTokens, doneJobs, deadJobs, webhookPayloads, oidcState } = counts;
  if (!dryRun && linkTokens + doneJobs + deadJobs + webhookPayloads + oidcState === 0) return 'Nothing was old enough to remove.';
  const remove = dryRun ? 'Would remove' : 'Removed';
  const clear = dryRun ? 'Would clear' : 'Cleared';
  return [
    `${remove} ${plural(linkTokens, 'link token', 'link tokens')} that expired or were used more than ${TOKEN_KEEP_DAYS} days ago.`,
    `${remove} ${plural(doneJobs, 'done job', 'done jobs')} and ${plural(deadJobs, 'dead job', 'dead jobs')} that finished more than ${JOB_KEEP_DAYS} days ago.`,
    `${clear} the payloads of ${plural(webhookPayloads, 'webhook delivery', 'webhook deliveries')} received more than ${retentionDays} days ago (RETENTION_DAYS); their ids, types, outcomes and times are kept.`,
    `${remove} ${plural(oidcState, 'expired OpenID Connect record', 'expired OpenID Connect records')} (sign-in sessions, codes, tokens).`,
    ...(dryRun ? ['Nothing was changed (--dry-run).'] : []),
  ].join('\n');
}
