import type { AuditRow } from '../../audit/log.js';
import { FILTER_FIELDS, PAGE_SIZE, type FilterValues } from '../../admin/audit-query.js';
import { AuditTable } from './audit-table.js';
import { panelPage, type PanelContext } from './layout.js';

export type AuditView =
  | { values: FilterValues; error: string }
  | { values: FilterValues; rows: AuditRow[]; before: number | null; older: number | null; roleName?: (id: string) => string | undefined };

/** /admin/audit with these filters (in a fixed order) and any extra parameters. */
export function auditHref(values: FilterValues, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams();
  for (const field of FILTER_FIELDS) if (values[field]) params.set(field, values[field]);
  for (const [key, value] of Object.entries(extra)) params.set(key, value);
  const qs = params.toString();
  return qs ? `/admin/audit?${qs}` : '/admin/audit';
}

const FIELDS: { name: (typeof FILTER_FIELDS)[number]; label: string; hint: string }[] = [
  { name: 'actor', label: 'Who', hint: "An admin's Discord ID or name, api:<key name>, cli:<login>, oidc:<app>, or webhook, system, subscriber" },
  { name: 'action', label: 'Action', hint: 'Exact, such as role.added, or ending in a dot for all of them, such as role.' },
  { name: 'email', label: 'Email', hint: 'The whole address; capitals do not matter' },
  { name: 'discord', label: 'Discord ID', hint: 'The member the entry is about' },
  { name: 'subscription', label: 'Subscription ID', hint: 'The subscription the entry is about' },
  { name: 'from', label: 'From', hint: 'YYYY-MM-DD, or YYYY-MM-DD HH:MM (UTC)' },
  { name: 'to', label: 'To', hint: 'Includes that whole day (or minute)' },
];

function Filters(props: { values: FilterValues }) {
  return (
    <form method="get" action="/admin/audit" role="search" class="inline filters" aria-label="Filter the audit log">
      {FIELDS.map((f) => (
        <p>
          <label for={f.name}>{f.label}</label>
          <br />
          <input type="text" id={f.name} name={f.name} value={props.values[f.name] ?? ''} aria-describedby={`${f.name}-hint`} maxLength={320} />
          <br />
          <span class="muted" id={`${f.name}-hint`}>{f.hint}</span>
        </p>
      ))}
      <p>
        <button type="submit">Filter</button> <a href="/admin/audit">Clear</a>
      </p>
    </form>
  );
}

export function auditPage(ctx: PanelContext, view: AuditView): string {
  const filtered = FILTER_FIELDS.some((f) => view.values[f]);
  return panelPage(
    ctx,
    'Audit log',
    <>
      {'error' in view && (
        <p class="flash flash-failed" role="alert">
          <strong>These filters cannot be used:</strong> {view.error}
        </p>
      )}
      <Filters values={view.values} />
      {'error' in view ? null : (
        <>
          <h2>{filtered ? 'Matching entries' : 'All entries'}, newest first</h2>
          <p class="muted">
            {view.before === null ? `The latest ${PAGE_SIZE} at most.` : `Older than entry ${view.before}, ${PAGE_SIZE} at most.`} Times are UTC.{' '}
            <a href={auditHref(view.values, { format: 'csv' })}>Download {filtered ? 'every matching entry' : 'the whole log'} as CSV</a>
          </p>
          <AuditTable rows={view.rows} details roleName={view.roleName} empty={filtered ? 'No entries match these filters.' : 'Nothing recorded yet.'} />
          {(view.before !== null || view.older !== null) && (
            <nav aria-label="Pages of the audit log" class="pager">
              {view.before !== null && <a href={auditHref(view.values)}>Newest entries</a>}
              {view.older !== null && <a href={auditHref(view.values, { before: String(view.older) })}>Older entries</a>}
            </nav>
          )}
        </>
      )}
    </>,
  );
}
