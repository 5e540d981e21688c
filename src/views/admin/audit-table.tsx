import type { AuditRow } from '../../audit/log.js';
import { memberPath, subscriptionPath } from '../../admin/paths.js';
import { Table, When } from './layout.js';

/** Who did it, in words: an admin by name (and ID), or one of the fixed actors. */
export function actorLabel(row: Pick<AuditRow, 'actor' | 'actor_name'>): string {
  if (row.actor.startsWith('admin:')) return `${row.actor_name ?? 'admin'} (${row.actor.slice('admin:'.length)})`;
  return row.actor;
}

/** Audit entries as a table; each Discord ID and subscription links to its page. */
export function AuditTable(props: { rows: AuditRow[]; roleName?: (id: string) => string | undefined; empty?: string; details?: boolean }) {
  const rows = props.rows.map((r) => [
    <When at={r.at} />,
    actorLabel(r),
    r.action,
    <Subject row={r} />,
    r.role_id ? (props.roleName?.(r.role_id) ?? r.role_id) : '',
    r.reason ?? '',
    ...(props.details ? [r.details ? <code>{r.details}</code> : ''] : []),
  ]);
  const columns = ['When', 'Who', 'What', 'Subject', 'Role', 'Reason', ...(props.details ? ['Details'] : [])];
  return <Table columns={columns} rows={rows} empty={props.empty ?? 'Nothing recorded yet.'} />;
}

function Subject(props: { row: AuditRow }) {
  const { email, discord_id: discordId, subscription_id: subscriptionId } = props.row;
  return (
    <>
      {discordId && <a href={memberPath(discordId)}>{discordId}</a>}
      {discordId && (subscriptionId || email) && ' '}
      {subscriptionId && <a href={subscriptionPath(subscriptionId)}>{subscriptionId}</a>}
      {subscriptionId && email && ' '}
      {email}
    </>
  );
}
