import type { Dashboard } from '../../admin/dashboard.js';
import { INVALID_WINDOW_DAYS } from '../../admin/dashboard.js';
import type { KindSummary } from '../../jobs/queue.js';
import { AuditTable } from './audit-table.js';
import { MemberSearch } from './members.js';
import { panelPage, Table, When, type PanelContext } from './layout.js';

function YesNo(props: { value: boolean | null; yes: string; no: string; unknown?: string }) {
  if (props.value === null) return <span class="muted">{props.unknown ?? 'not checked yet'}</span>;
  return props.value ? <span class="ok">{props.yes}</span> : <span class="bad">{props.no}</span>;
}

function Work(props: { work: KindSummary }) {
  const { work } = props;
  return (
    <>
      Last success: <When at={work.lastDoneAt} />. Waiting: {work.pending}. Failed for good: {work.dead}.
      {work.lastError && (
        <>
          {' '}<span class="bad">Last error (<When at={work.lastError.at} />): {work.lastError.message}</span>
        </>
      )}
    </>
  );
}

export function dashboardPage(ctx: PanelContext, d: Dashboard, roleName: (id: string) => string | undefined): string {
  const s = d.subscriptions;
  const counts: [string, number, string?][] = [
    ['Active subscriptions', s.active],
    ['Linked to Discord', s.linked],
    ['Not yet linked', s.unlinked],
    ['Suspended', s.suspended],
    ['Cancelled', s.cancelled],
    ['Jobs waiting', d.jobs.pending],
    ['Jobs failed for good', d.jobs.dead, '/admin/failed'],
    [`Invalid deliveries (${INVALID_WINDOW_DAYS} days)`, d.invalidDeliveries, '/admin/failed#invalid'],
  ];
  return panelPage(
    ctx,
    'Dashboard',
    <>
      <MemberSearch label="Find a member" />
      <ul class="counts">
        {counts.map(([label, n, href]) => (
          <li>
            <strong>{n}</strong>
            {href ? <a href={href}>{label}</a> : label}
          </li>
        ))}
      </ul>

      <h2>Discord</h2>
      {d.discord.configured ? (
        <>
          <p>
            Connection: {d.discord.connection}. Bot in the server:{' '}
            <YesNo value={d.discord.inGuild} yes="yes" no="no" />. Manage Roles:{' '}
            <YesNo value={d.discord.manageRoles} yes="yes" no="missing" />. Checked: <When at={d.discord.checkedAt} />.
          </p>
          {d.discord.roles && (
            <Table
              caption="Managed roles (config/roles.json)"
              columns={['Role', 'ID', 'Can the bot give it?']}
              rows={d.discord.roles.map((r) => [
                r.name ?? <span class="bad">missing on the server</span>,
                r.id,
                <YesNo value={r.manageable} yes="yes" no="no: the role is above the bot's highest role, or Manage Roles is missing" />,
              ])}
              empty="No managed roles."
            />
          )}
          {d.discord.problems.length > 0 ? (
            <ul>{d.discord.problems.map((p) => <li class="bad">{p}</li>)}</ul>
          ) : (
            <p class="ok">No problems found.</p>
          )}
        </>
      ) : (
        <p class="bad">Discord is not configured (DISCORD_* settings): no roles are given.</p>
      )}

      <h2>Ghost</h2>
      <p>{d.ghost.configured ? <Work work={d.ghost.work} /> : 'Off: CMS_URL and CMS_ADMIN_KEY are not set.'}</p>

      <h2>Email</h2>
      <p>
        Sent through {d.email.transport}. <Work work={d.email.work} />
      </p>

      <h2>Latest activity</h2>
      <AuditTable rows={d.recent} roleName={roleName} />
      <p><a href="/admin/audit">The whole audit log</a></p>
    </>,
  );
}
