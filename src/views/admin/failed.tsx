import type { DeadJob, DeadJobs, Deliveries, Delivery } from '../../admin/failed.js';
import { RETRY_BUDGET_MS } from '../../jobs/queue.js';
import { memberPath, subscriptionPath } from '../../admin/paths.js';
import { Csrf, panelPage, ReasonField, Table, When, type PanelContext } from './layout.js';

export interface FailedView {
  dead: DeadJobs;
  deliveries: { invalid: Deliveries; refused: Deliveries };
}

function Subject(props: { job: DeadJob }) {
  const { subject } = props.job;
  if (!subject.discordId && !subject.subscriptionId) return <>{subject.words}</>;
  return (
    <>
      {subject.discordId && (
        <>
          Discord user <a href={memberPath(subject.discordId)}>{subject.discordId}</a>
          <br />
        </>
      )}
      {subject.subscriptionId && (
        <>
          Subscription <a href={subscriptionPath(subject.subscriptionId)}>{subject.subscriptionId}</a>
          {subject.email && ` (${subject.email})`}
          <br />
        </>
      )}
      {subject.roles.length > 0 && (
        <>
          {subject.roles.length === 1 ? 'Role' : 'Roles'}:{' '}
          {subject.roles.map((r, i) => (
            <>
              {i > 0 && ', '}
              {r.name ? <strong>{r.name}</strong> : <>unknown role {r.id}</>}
            </>
          ))}
          <br />
        </>
      )}
      {subject.cause && <span class="muted">Queued because: {subject.cause}</span>}
    </>
  );
}

function RetryForm(props: { job: DeadJob; csrf: string }) {
  const field = `reason-${props.job.id}`;
  return (
    <form method="post" action={`/admin/failed/${props.job.id}/retry`}>
      <Csrf token={props.csrf} />
      <ReasonField id={field} />
      <button type="submit">Retry job {props.job.id}</button>
    </form>
  );
}

function DeadJobsSection(props: { ctx: PanelContext; dead: DeadJobs }) {
  const { ctx, dead } = props;
  const mayAct = ctx.admin.role === 'admin';
  const columns = ['Job', 'What', 'Who', 'Attempts', 'Failed', 'Error', ...(mayAct ? ['Retry'] : [])];
  const rows = dead.jobs.map((job) => [
    String(job.id),
    <>
      <strong>{job.kindName}</strong>
      <br />
      <span class="muted">{job.does}</span>
    </>,
    <Subject job={job} />,
    String(job.attempts),
    <When at={job.diedAt} />,
    <span class="bad">{job.error}</span>,
    ...(mayAct ? [<RetryForm job={job} csrf={ctx.csrf} />] : []),
  ]);
  return (
    <section id="dead" aria-labelledby="dead-title">
      <h2 id="dead-title">Jobs that failed for good</h2>
      <p>
        These will not be tried again by themselves. Fix the cause first (the error says what it is), then retry: a retried job
        runs at once, with a fresh count of attempts and another {RETRY_BUDGET_MS / 86_400_000} days of retries.
      </p>
      {mayAct && dead.total > 0 && (
        <form method="post" action="/admin/failed/retry-all" class="inline">
          <Csrf token={ctx.csrf} />
          <ReasonField id="reason-all" label={`Reason for retrying all ${dead.total}`} />
          <p>
            <button type="submit">Retry all</button>
          </p>
        </form>
      )}
      {!mayAct && dead.total > 0 && <p class="muted">Only admins can retry jobs.</p>}
      <Table columns={columns} rows={rows} empty="No job has failed for good." />
      {dead.total > dead.jobs.length && (
        <p class="muted">
          Showing the newest {dead.jobs.length} of {dead.total}; {dead.total - dead.jobs.length} older ones are not shown.
        </p>
      )}
    </section>
  );
}

function DeliveryTable(props: { deliveries: Deliveries; caption: string; empty: string }) {
  const { rows, total } = props.deliveries;
  const cells = rows.map((d: Delivery) => [
    <When at={d.receivedAt} />,
    d.scheme,
    d.type ?? <span class="muted">none</span>,
    d.subscriptionId ? <a href={subscriptionPath(d.subscriptionId)}>{d.subscriptionId}</a> : <span class="muted">none</span>,
    d.removedAt ? (
      <span class="muted">removed with the payload</span>
    ) : d.errors.length > 0 ? (
      <ul>
        {d.errors.map((e) => (
          <li class="bad">{e}</li>
        ))}
      </ul>
    ) : (
      <span class="muted">none recorded</span>
    ),
    d.removedAt ? (
      <span class="muted">
        removed <When at={d.removedAt} /> (older than RETENTION_DAYS, or the subscriber was erased)
      </span>
    ) : (
      <pre>{d.payload}</pre>
    ),
  ]);
  return (
    <>
      <Table caption={props.caption} columns={['Received', 'Scheme', 'Type', 'Subscription', 'Problems', 'Payload']} rows={cells} empty={props.empty} />
      {total > rows.length && (
        <p class="muted">
          Showing the newest {rows.length} of {total}.
        </p>
      )}
    </>
  );
}

export function failedPage(ctx: PanelContext, view: FailedView): string {
  const { invalid, refused } = view.deliveries;
  return panelPage(
    ctx,
    'Failed work',
    <>
      <DeadJobsSection ctx={ctx} dead={view.dead} />
      <section id="invalid" aria-labelledby="invalid-title">
        <h2 id="invalid-title">Deliveries that were not applied</h2>
        <p>
          Billing events with a valid signature that Arbiter could not use. Nothing was changed by them; the sender was
          answered 422.
        </p>
        <h3>Invalid payloads</h3>
        <p class="muted">The payload itself is wrong: the billing system has to send a corrected event.</p>
        <DeliveryTable deliveries={invalid} caption="Invalid deliveries, newest first" empty="No invalid deliveries." />
        <h3 id="refused">Refused: a configuration problem</h3>
        <p class="muted">
          The payload is valid but names what the configuration does not know (a tier missing from config/roles.json). Once
          the configuration names it, the sender's next retry of the same delivery is applied.
        </p>
        <DeliveryTable deliveries={refused} caption="Refused deliveries, newest first" empty="No refused deliveries." />
      </section>
    </>,
  );
}
