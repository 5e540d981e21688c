import { SNOWFLAKE } from '../../config.js';
import { cliActing } from '../actor.js';
import { EXIT, type Command } from '../command.js';
import { reasonOption } from '../reason.js';
import { applyReconcile, overRemovalCap, planReconcile, type ReconcilePlan, type ReconcileReport, type ReconcileTarget } from '../reconcile.js';

export const reconcileCommand: Command = {
  name: 'reconcile',
  summary: "compare members' Discord roles with what Arbiter says they should hold, and fix the difference",
  usage: 'reconcile (--discord-id ID | --all) [--dry-run] [--force] [--reason TEXT]',
  help: `Compares the roles a member holds on Discord with what their subscriptions and grants give them, and adds
and removes the difference through the same reconciler the server uses. Only the roles in roles.json are
touched. Calls Discord's API directly; safe while Arbiter runs.

  --discord-id ID  one member
  --all            everyone Arbiter knows (linked subscriptions, grants and blocks) and every member of the
                   server who holds a managed role
  --dry-run        print who would gain and lose which role, and change nothing
  --force          carry out a plan that removes more roles than SWEEP_MAX_REMOVALS, which is refused otherwise
  --reason TEXT    kept in the audit log with your login name (default: "asked for on the command line")

Prints one line per member who changes, and a summary: members checked, roles added, removed and refused.
Exit status 1 when Discord refused a change or the plan was refused.`,
  options: {
    'discord-id': { type: 'string' },
    all: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    force: { type: 'boolean' },
    reason: { type: 'string' },
  },
  async run({ values, io, services }) {
    const discordId = values['discord-id'] as string | undefined;
    if ((discordId === undefined) === !values.all) {
      io.err('Say whose roles to check: --discord-id ID or --all (one of them).');
      return EXIT.failed;
    }
    if (discordId !== undefined && !SNOWFLAKE.test(discordId)) {
      io.err(`--discord-id must be a Discord ID (17 to 20 digits), not "${discordId}".`);
      return EXIT.failed;
    }
    const reason = reasonOption(values.reason);
    if ('problem' in reason) {
      io.err(reason.problem);
      return EXIT.failed;
    }
    const target: ReconcileTarget = discordId !== undefined ? { discordId } : { all: true };
    const plan = await planReconcile(services(), target);
    const name = (id: string) => plan.roleNames.get(id) ?? id;
    const who = (p: { discordId: string; emails: string[] }) => `${p.discordId}${p.emails.length > 0 ? ` (${p.emails.join(', ')})` : ''}`;
    const roles = (ids: string[]) => ids.map(name).join(', ');
    for (const w of plan.waiting) io.out(`${who(w)}: not in the Discord server; gets ${roles(w.roles)} on joining`);

    if (values['dry-run']) {
      for (const c of plan.changes) io.out(`${who(c)}: ${describe('gains', c.add, 'loses', c.remove, roles)}`);
      if (plan.changes.length === 0 && 'discordId' in target && plan.waiting.length === 0) io.out(`${discordId}: roles already right`);
      io.out(`Dry run: nothing was changed. ${planSummary(plan)}`);
      if (overRemovalCap(plan)) io.out(`That is more than SWEEP_MAX_REMOVALS (${plan.maxRemovals}): the real run needs --force.`);
      return EXIT.ok;
    }

    const report = await applyReconcile(services(), plan, cliActing(io.env), { reason: reason.value, force: Boolean(values.force) });
    for (const r of report.results) {
      if (r.added.length + r.removed.length > 0) io.out(`${who(r)}: ${describe('gained', r.added, 'lost', r.removed, roles)}`);
    }
    if (report.results.length === 0 && 'discordId' in target && plan.waiting.length === 0) io.out(`${discordId}: roles already right`);
    io.out(reportSummary(report));
    for (const r of report.results) for (const text of r.refused) io.out(`  ${r.discordId}: ${text}`);
    if (report.stopped) io.out(`Stopped before the end: ${report.stopped}`);
    return report.refused === 0 && !report.stopped ? EXIT.ok : EXIT.failed;
  },
};

function describe(gain: string, added: string[], lose: string, removed: string[], roles: (ids: string[]) => string): string {
  return [added.length > 0 && `${gain} ${roles(added)}`, removed.length > 0 && `${lose} ${roles(removed)}`].filter(Boolean).join(', ');
}

const members = (n: number) => `${n} member${n === 1 ? '' : 's'}`;
const rolesCount = (n: number) => `${n} role${n === 1 ? '' : 's'}`;

function planSummary(plan: ReconcilePlan): string {
  return `${members(plan.checked)} checked: ${rolesCount(plan.additions)} to add, ${plan.removals} to remove.`;
}

function reportSummary(report: ReconcileReport): string {
  return `${members(report.checked)} checked, ${rolesCount(report.added)} added, ${report.removed} removed, ${report.refused} refused${report.refused > 0 ? ':' : '.'}`;
}
