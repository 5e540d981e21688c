/**
 * The admins' action forms, for the member and subscription pages to include. Each posts to its route with the CSRF
 * token and a required reason; the route redirects back to the page with the outcome.
 */
import { memberPath, subscriptionPath } from '../../admin/paths.js';
import type { RoleGrant } from '../../roles/grants.js';
import type { Subscription } from '../../subscriptions/store.js';
import { Csrf, ReasonField, When } from './layout.js';

type Role = { id: string; name: string };

/** An id attribute from any text: subscription IDs are chosen by the billing system. */
function idPart(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, '_');
}

function Expiry(props: { id: string; what: string }) {
  return (
    <p>
      <label for={props.id}>Ends on (optional)</label>
      <br />
      <input id={props.id} type="date" name="expires_at" aria-describedby={`${props.id}-hint`} />
      <br />
      <span id={`${props.id}-hint`} class="muted">
        The {props.what} ends at 00:00 UTC on this day (a time may be given as YYYY-MM-DDTHH:MM, also UTC). Empty: until revoked.
      </span>
    </p>
  );
}

function grantLabel(g: RoleGrant, names: Map<string, string>): string {
  const role = g.role_id === null ? 'all managed roles' : (names.get(g.role_id) ?? g.role_id);
  return `${g.kind === 'grant' ? 'Grant of' : 'Block of'} ${role} (${g.kind} ${g.id})`;
}

export function MemberActions(props: { csrf: string; discordId: string; grantable: Role[]; inForce: RoleGrant[] }) {
  const base = memberPath(props.discordId);
  const names = new Map(props.grantable.map((r) => [r.id, r.name]));
  return (
    <>
      {props.grantable.length > 0 ? (
        <form method="post" action={`${base}/grants`}>
          <fieldset>
            <legend>Grant a role</legend>
            <Csrf token={props.csrf} />
            <p>
              <label for="grant-role">Role</label>
              <br />
              <select id="grant-role" name="role_id" required>
                {props.grantable.map((r) => <option value={r.id}>{r.name}</option>)}
              </select>
            </p>
            <Expiry id="grant-expires" what="grant" />
            <ReasonField id="grant-reason" />
            <p><button type="submit">Grant the role</button></p>
          </fieldset>
        </form>
      ) : (
        <p class="muted">No role can be granted: none of the roles in roles.json exists in the Discord server right now.</p>
      )}

      <form method="post" action={`${base}/blocks`}>
        <fieldset>
          <legend>Block roles</legend>
          <Csrf token={props.csrf} />
          <p class="muted">A block withholds roles whatever the subscriptions and grants say.</p>
          <p>
            <label for="block-role">Withhold</label>
            <br />
            <select id="block-role" name="role_id" required>
              <option value="all">All managed roles</option>
              {props.grantable.map((r) => <option value={r.id}>{r.name}</option>)}
            </select>
          </p>
          <Expiry id="block-expires" what="block" />
          <ReasonField id="block-reason" />
          <p><button type="submit">Block</button></p>
        </fieldset>
      </form>

      {props.inForce.length > 0 && (
        <fieldset>
          <legend>Grants and blocks in force</legend>
          {props.inForce.map((g) => (
            <form method="post" action={`${base}/grants/${g.id}/revoke`}>
              <Csrf token={props.csrf} />
              <p>
                <strong>{grantLabel(g, names)}</strong>, {g.expires_at ? <>until <When at={g.expires_at} /></> : 'until revoked'}. Given for: {g.reason}
              </p>
              <ReasonField id={`revoke-${g.id}-reason`} label="Reason to end it now" />
              <p><button type="submit">{g.kind === 'grant' ? 'Revoke the grant' : 'End the block'}</button></p>
            </form>
          ))}
        </fieldset>
      )}

      <form method="post" action={`${base}/reconcile`}>
        <fieldset>
          <legend>Reconcile now</legend>
          <Csrf token={props.csrf} />
          <p class="muted">Compares the roles this member should hold with their roles on Discord and fixes the difference.</p>
          <ReasonField id="reconcile-reason" />
          <p><button type="submit">Reconcile now</button></p>
        </fieldset>
      </form>
    </>
  );
}

export function SubscriptionActions(props: { csrf: string; subscription: Subscription }) {
  const s = props.subscription;
  const base = subscriptionPath(s.subscription_id);
  const id = idPart(s.subscription_id);
  const canResend = s.status === 'active' && s.discord_id === null;
  if (!canResend && s.discord_id === null) {
    return <p class="muted">No actions: the subscription is {s.status} and not linked to Discord.</p>;
  }
  return (
    <>
      {canResend && (
        <form method="post" action={`${base}/resend-link`}>
          <fieldset>
            <legend>Resend link</legend>
            <Csrf token={props.csrf} />
            <p class="muted">Emails a new link to {s.email}. Links sent before stop working.</p>
            <ReasonField id={`resend-${id}-reason`} />
            <p><button type="submit">Resend link</button></p>
          </fieldset>
        </form>
      )}
      {s.discord_id !== null && (
        <form method="post" action={`${base}/unlink`}>
          <fieldset>
            <legend>Unlink Discord account</legend>
            <Csrf token={props.csrf} />
            <p class="muted">
              Discord ID {s.discord_id} loses this subscription's roles (unless another subscription or a grant gives them) and the
              subscription waits for a link again. No email is sent: use Resend link afterwards.
            </p>
            <ReasonField id={`unlink-${id}-reason`} />
            <p><button type="submit">Unlink</button></p>
          </fieldset>
        </form>
      )}
    </>
  );
}
