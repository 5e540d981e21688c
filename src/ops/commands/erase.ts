import { userInfo } from 'node:os';
import type { Actor } from '../../audit/log.js';
import { EXIT, type Command } from '../command.js';
import { erase, parseEmail, planErasure, type ErasePlan, type ErasureCounts, type ErasureReport } from '../erase.js';

export const eraseCommand: Command = {
  name: 'erase',
  summary: "erase a subscriber's personal data, found by email",
  usage: 'erase <email> [--yes] [--local-only]',
  help: `Erases what Arbiter keeps about one subscriber, found by email (in any case). Without --yes it only prints
what it would do, changes nothing and exits 0.

With --yes, what Arbiter did elsewhere is undone first: the managed roles (config/roles.json) come off their
Discord account (roles another subscription of that account still gives stay; other roles are never touched) and
their Discord ID comes off their Ghost member. If Discord or Ghost cannot be reached, nothing is changed and the
command exits 1. Then, in DATA_DIR: each subscription with that email keeps its ID, tier, status and times, with
the email replaced by erased:<first 16 hex digits of the SHA-256 of the lowercased email>, the name removed and the Discord
account unlinked; their link tokens and the jobs that name them are deleted; the payloads of webhook deliveries
about them are cleared (the rows stay, so a resent delivery is still recognised); their grants and blocks end;
audit rows stay, with the email replaced by the same hash and the email and name taken out of reasons and details;
their sessions and outbox mail are deleted. Both databases are then rewritten so that no file in DATA_DIR keeps
an old copy. The erasure is audited as subscriber.erased with the hash and counts only.

Not reached: backups made before (they age out), the system journal, the billing system, and the Discord account
and Ghost member themselves. Best run with Arbiter stopped; safe while it runs (see README.md).

  --yes          erase; without it, only print the plan
  --local-only   erase Arbiter's data even when Discord or Ghost cannot be reached, and list what is left there

Exit status 1: not an email address, nothing stored about it, or Discord or Ghost could not be reached.`,
  options: { yes: { type: 'boolean' }, 'local-only': { type: 'boolean' } },
  positionals: { min: 1, max: 1 },
  async run({ values, positionals, io, services }) {
    const email = parseEmail(positionals[0]!);
    if (values.yes !== true) {
      io.out(describePlan(planErasure(services(), email)));
      return EXIT.ok;
    }
    io.out(describeErasure(await erase(services(), email, { actor: cliActor(), localOnly: values['local-only'] === true })));
    return EXIT.ok;
  },
};

/** The person at the terminal, as the operating system knows them. */
function cliActor(): Actor {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return `cli:uid ${process.getuid?.() ?? 'unknown'}`;
  }
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

function localWords(counts: ErasureCounts, plan: ErasePlan, done: boolean): string[] {
  const { hash } = plan.subject;
  const ids = plan.subject.subscriptions.map((s) => s.subscription_id).join(', ');
  const lines: [number, string][] = [
    [counts.subscriptions, done ? `${plural(counts.subscriptions, 'subscription', 'subscriptions')} (${ids}): email replaced by ${hash}, name removed, Discord account unlinked` : `replace the email of ${plural(counts.subscriptions, 'subscription', 'subscriptions')} (${ids}) by ${hash}, remove the name and unlink the Discord account`],
    [counts.linkTokens, done ? `${plural(counts.linkTokens, 'link token', 'link tokens')} deleted` : `delete ${plural(counts.linkTokens, 'link token', 'link tokens')}`],
    [counts.deliveries, done ? `payloads of ${plural(counts.deliveries, 'webhook delivery', 'webhook deliveries')} cleared (the rows stay)` : `clear the payloads of ${plural(counts.deliveries, 'webhook delivery', 'webhook deliveries')} (the rows stay)`],
    [counts.jobs, done ? `${plural(counts.jobs, 'job', 'jobs')} deleted` : `delete ${plural(counts.jobs, 'job', 'jobs')}`],
    [counts.grants, done ? `${plural(counts.grants, 'role grant or block', 'role grants and blocks')} ended or cleaned` : `end or clean ${plural(counts.grants, 'role grant or block', 'role grants and blocks')}`],
    [counts.auditRows, done ? `${plural(counts.auditRows, 'audit row', 'audit rows')} cleaned (the rows stay, with ${hash})` : `take the email and name out of ${plural(counts.auditRows, 'audit row', 'audit rows')} (the rows stay, with ${hash})`],
    [counts.sessions, done ? `${plural(counts.sessions, 'session', 'sessions')} deleted` : `delete ${plural(counts.sessions, 'session', 'sessions')}`],
    [counts.outboxFiles, done ? `${plural(counts.outboxFiles, 'outbox file', 'outbox files')} deleted` : `delete ${plural(counts.outboxFiles, 'outbox file', 'outbox files')}`],
    [counts.oidcRecords, done ? `${plural(counts.oidcRecords, 'OpenID Connect record', 'OpenID Connect records')} (sign-ins to other apps) deleted` : `delete ${plural(counts.oidcRecords, 'OpenID Connect record', 'OpenID Connect records')} (sign-ins to other apps)`],
  ];
  return lines.filter(([n]) => n > 0).map(([, words]) => `  - ${words}`);
}

export function describePlan(plan: ErasePlan): string {
  const { subject } = plan;
  if (plan.alreadyErased) return `${subject.email} was erased before (${subject.hash}); nothing names it any more. Nothing was changed.`;
  const lines = [`Erasing ${subject.email} would:`];
  for (const userId of subject.discordIds) lines.push(`  - on Discord: take the managed roles off Discord user ${userId} (other roles stay)`);
  if (subject.discordIds.length > 0) {
    if (plan.ghost) for (const email of subject.emails) lines.push(`  - on Ghost: take Discord ID ${subject.discordIds.join(', ')} off the member with ${email}, if it carries it`);
    else lines.push('  - on Ghost: nothing (Ghost is not configured)');
  }
  lines.push(...localWords(plan.counts, plan, false));
  lines.push('  - rewrite arbiter.db and sessions.db so that no old copy stays in DATA_DIR', 'Nothing was changed. Run again with --yes to erase.');
  return lines.join('\n');
}

export function describeErasure(report: ErasureReport): string {
  const { subject } = report.plan;
  if (report.plan.alreadyErased) return describePlan(report.plan);
  const lines = [`Erased ${subject.email}; what Arbiter keeps about them is now known as ${subject.hash}.`];
  for (const d of report.discord) {
    const what = !d.inServer ? 'not in the server; nothing to take off' : d.removed.length > 0 ? `took off ${d.removed.join(', ')}` : 'held no managed roles';
    lines.push(`  - Discord user ${d.userId}: ${what}`);
  }
  for (const g of report.ghost) lines.push(`  - Ghost: took Discord ID ${g.discordId} off the member with ${g.email}`);
  lines.push(...localWords(report.counts, report.plan, true));
  lines.push(...report.left, ...report.warnings.map((w) => `Warning: ${w}`));
  lines.push("Backups made before now still hold this subscriber's data until they age out: erase does not reach into them.");
  return lines.join('\n');
}
