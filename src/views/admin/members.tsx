import type { GhostRead, MemberView, SubscriptionView } from '../../admin/member.js';
import type { SearchHit } from '../../admin/search.js';
import type { RoleGrant } from '../../roles/grants.js';
import type { Subscription } from '../../subscriptions/store.js';
import { memberPath, subscriptionPath } from '../../admin/paths.js';
import { MemberActions, SubscriptionActions } from './actions.js';
import { AuditTable } from './audit-table.js';
import { panelPage, Table, When, type PanelContext } from './layout.js';


export function MemberSearch(props: { label: string; q?: string }) {
  return (
    <form method="get" action="/admin/members" role="search" class="inline">
      <p>
        <label for="q">{props.label}</label>
        <br />
        <input id="q" type="search" name="q" value={props.q ?? ''} maxLength={200} placeholder="email, name, Discord ID or subscription ID" />
      </p>
      <p><button type="submit">Search</button></p>
    </form>
  );
}

function Link(props: { link: SearchHit['link'] }) {
  return (
    <>
      {props.link.state}
      {props.link.at && <> (<When at={props.link.at} />)</>}
    </>
  );
}

function Account(props: { subscription: Subscription }) {
  const id = props.subscription.discord_id;
  return id ? <a href={memberPath(id)}>{id}</a> : <span class="muted">not linked</span>;
}

export function searchPage(ctx: PanelContext, q: string, hits: SearchHit[] | null, limit: number): string {
  return panelPage(
    ctx,
    'Members',
    <>
      <MemberSearch label="Email, part of an email, name, Discord ID or subscription ID" q={q} />
      {hits && (
        <>
          <p role="status">
            {hits.length === 0 ? `Nothing found for "${q}".` : `${hits.length} subscription${hits.length === 1 ? '' : 's'} found${hits.length === limit ? ' (the first ' + limit + '; narrow the search to see others)' : ''}.`}
          </p>
          <Table
            columns={['Subscription', 'Email', 'Name', 'Tier', 'Status', 'Discord account', 'Link', 'Last event']}
            rows={hits.map((h) => [
              <a href={subscriptionPath(h.subscription.subscription_id)}>{h.subscription.subscription_id}</a>,
              h.subscription.email,
              h.subscription.name,
              h.subscription.tier,
              h.subscription.status,
              <Account subscription={h.subscription} />,
              <Link link={h.link} />,
              h.lastEvent ? <>{h.lastEvent.type ?? 'unknown'} ({h.lastEvent.outcome}), <When at={h.lastEvent.at} /></> : <span class="muted">none</span>,
            ])}
            empty=""
          />
        </>
      )}
    </>,
  );
}

function SubscriptionsTable(props: { subscriptions: (Subscription & { link: SearchHit['link'] })[] }) {
  return (
    <Table
      columns={['Subscription', 'Email', 'Name', 'Tier', 'Status', 'Link', 'Changed']}
      rows={props.subscriptions.map((s) => [
        <a href={subscriptionPath(s.subscription_id)}>{s.subscription_id}</a>,
        s.email,
        s.name,
        s.tier,
        s.status,
        <Link link={s.link} />,
        <When at={s.last_event_at} />,
      ])}
      empty="No subscription is linked to this Discord account."
    />
  );
}

export function GhostLine(props: { ghost: GhostRead }) {
  const g = props.ghost;
  switch (g.status) {
    case 'off':
      return <p class="muted">Ghost is not configured.</p>;
    case 'no email':
      return <p class="muted">No subscription, so no email to look up in Ghost.</p>;
    case 'not found':
      return <p>No Ghost member with the email {g.email}.</p>;
    case 'unavailable':
      return <p class="bad">Could not read Ghost: {g.reason}</p>;
    case 'found':
      return (
        <p>
          Ghost member {g.memberId} ({g.email}):{' '}
          {g.discordIdWritten ? <span class="ok">the Discord ID is written</span> : <span class="bad">the Discord ID is not written (yet)</span>}.
        </p>
      );
  }
}

function grantText(g: RoleGrant, roleName: (id: string) => string): string {
  if (g.kind === 'grant') return `grant of ${roleName(g.role_id!)}`;
  return g.role_id ? `block of ${roleName(g.role_id)}` : 'block of all managed roles';
}

/** Admins see the forms that change things; staff only read. */
export function memberPage(ctx: PanelContext, m: MemberView, roleName: (id: string) => string): string {
  const actions = ctx.admin.role === 'admin' && (
    <MemberActions csrf={ctx.csrf} discordId={m.discordId} grantable={m.grantable ?? []} inForce={m.grants.inForce} />
  );
  const discord = m.discord;
  return panelPage(
    ctx,
    `Discord account ${m.discordId}`,
    <>
      <h2>Roles, and why</h2>
      {discord.status === 'unavailable' && <p class="bad">Could not read Discord ({discord.reason}): what they hold now is unknown.</p>}
      {discord.status === 'not in server' && <p>Not a member of the Discord server: roles are given when they join.</p>}
      {discord.status === 'not configured' && <p class="muted">Discord is not configured.</p>}
      <Table
        columns={['Role', 'Should hold', 'Holds on Discord', 'Why', 'Difference']}
        rows={m.roles.map((r) => [
          r.name,
          r.managed ? (r.shouldHold ? 'yes' : 'no') : '',
          r.holds === null ? 'unknown' : r.holds ? 'yes' : 'no',
          <ul class="reasons">{r.reasons.map((text) => <li>{text}</li>)}</ul>,
          r.difference ? <span class="bad">{r.difference}</span> : r.holds === null ? '' : 'none',
        ])}
        empty="No roles: no active subscription, grant or block, and none held on Discord."
      />

      <h2>Subscriptions</h2>
      <SubscriptionsTable subscriptions={m.subscriptions} />

      <h2>Ghost</h2>
      {m.ghost.map((g) => <GhostLine ghost={g} />)}

      {actions && (
        <>
          <h2>Change</h2>
          {m.grantable === null && <p class="bad">Could not read the server's roles from Discord: granting and blocking one role wait until it answers.</p>}
          {actions}
        </>
      )}

      <h2>Grants and blocks</h2>
      <Table
        columns={['What', 'By', 'Reason', 'Since', 'Until', 'Ended']}
        rows={m.grants.history.map((g) => [
          grantText(g, roleName),
          g.created_by_name ?? g.created_by,
          g.reason,
          <When at={g.created_at} />,
          g.expires_at ? <When at={g.expires_at} /> : 'no end',
          g.revoked_at ? <>revoked by {g.revoked_by_name ?? g.revoked_by} (<When at={g.revoked_at} />): {g.revoke_reason ?? ''}</> : '',
        ])}
        empty="None."
      />

      <h2>History</h2>
      <AuditTable rows={m.history} roleName={roleName} />
    </>,
  );
}

export function subscriptionPage(ctx: PanelContext, v: SubscriptionView, roleName: (id: string) => string): string {
  const actions = ctx.admin.role === 'admin' && <SubscriptionActions csrf={ctx.csrf} subscription={v.subscription} />;
  const s = v.subscription;
  return panelPage(
    ctx,
    `Subscription ${s.subscription_id}`,
    <>
      <dl>
        <dt>Email</dt><dd>{s.email}</dd>
        <dt>Name</dt><dd>{s.name || <span class="muted">none given</span>}</dd>
        <dt>Tier</dt><dd>{s.tier}</dd>
        <dt>Status</dt><dd>{s.status}</dd>
        <dt>Discord account</dt><dd><Account subscription={s} /></dd>
        <dt>Link</dt><dd><Link link={s.link} /></dd>
        <dt>Last event</dt>
        <dd>{v.lastEvent ? <>{v.lastEvent.type ?? 'unknown'} ({v.lastEvent.outcome}), <When at={v.lastEvent.at} /></> : <span class="muted">none</span>}</dd>
      </dl>
      <h2>Ghost</h2>
      <GhostLine ghost={v.ghost} />
      {actions && (
        <>
          <h2>Change</h2>
          {actions}
        </>
      )}
      <h2>History</h2>
      <AuditTable rows={v.history} roleName={roleName} />
    </>,
  );
}
