/**
 * Every route of /api/v1 in one table: its path, the scope it needs, the schemas its input is checked against, what
 * it answers, and the use case it calls. The router and the OpenAPI document are both made from this table, so a
 * route cannot exist without its documentation. Reads come from the database (standingOf); changes go through the
 * same admin actions as the panel.
 */
import type { z } from 'zod';
import type { Acting } from '../../admin/access.js';
import { block, BlockInput, grantRole, GrantInput, knownToArbiter, MemberInput, reconcileNow, resendLink, RevokeInput, revokeGrant, SubscriptionInput } from '../../admin/actions.js';
import { parseInput } from '../../admin/input.js';
import type { Outcome } from '../../admin/outcome.js';
import { ArbiterError } from '../../errors.js';
import type { RoleGrant } from '../../roles/grants.js';
import type { Services } from '../../services.js';
import type { Subscription } from '../../subscriptions/store.js';
import type { ApiScope } from '../api-keys.js';
import { standingFrom } from '../standing.js';
import {
  ActionResult,
  BlockBody,
  DiscordIdParam,
  EmailQuery,
  GrantBody,
  GrantParams,
  Member,
  MembersByEmail,
  ReasonBody,
  SubscriptionDetail,
  SubscriptionParam,
} from './schemas.js';

/** Requests one key may make in a minute. */
export const API_RATE_LIMIT = 120;

type Obj = z.ZodObject;

export interface ApiContext {
  services: Services;
  acting: Acting;
}

export interface Endpoint<P extends Obj = Obj, Q extends Obj = Obj, B extends Obj = Obj> {
  method: 'get' | 'post';
  /** Under /api/v1, written as OpenAPI writes it: /members/{discordId}. */
  path: string;
  scope: ApiScope;
  summary: string;
  description?: string;
  params?: P;
  query?: Q;
  body?: B;
  /** The answer's schema (status 200). */
  answer: z.ZodType;
  /** What else may be answered besides the errors every route has (400, 401, 429). */
  errors: (403 | 404 | 409 | 503)[];
  handle(input: { params: z.output<P>; query: z.output<Q>; body: z.output<B> }, context: ApiContext): unknown;
}

/** Keeps each entry's types for its handler, and forgets them for the table. */
function endpoint<P extends Obj = Obj, Q extends Obj = Obj, B extends Obj = Obj>(e: Endpoint<P, Q, B>): Endpoint {
  return e as unknown as Endpoint;
}

function subscriptionDetail(s: Subscription): z.input<typeof SubscriptionDetail> {
  return {
    id: s.subscription_id,
    email: s.email,
    name: s.name,
    tier: s.tier,
    status: s.status,
    linked: s.discord_id !== null,
    discord_id: s.discord_id,
    linked_at: s.linked_at,
    created_at: s.created_at,
    updated_at: s.updated_at,
  };
}

function grantOf(g: RoleGrant) {
  return { id: g.id, kind: g.kind, role_id: g.role_id, reason: g.reason, expires_at: g.expires_at, created_at: g.created_at, created_by: g.created_by };
}

function memberOf(services: Services, discordId: string): z.input<typeof Member> {
  const subscriptions = services.subscriptions.byDiscordId(discordId);
  const grants = services.grants.active(discordId);
  const standing = standingFrom(discordId, subscriptions, grants, services.config.tiers);
  return {
    discord_id: standing.discordId,
    tiers: standing.tiers,
    subscription_status: standing.subscriptionStatus,
    roles: standing.roles.map((r) => ({ role_id: r.roleId, reasons: r.reasons })),
    subscriptions: subscriptions.map((s) => ({ id: s.subscription_id, tier: s.tier, status: s.status, linked: true })),
    grants: grants.map(grantOf),
  };
}

function actionResult(outcome: Outcome & { grantId?: number }): z.input<typeof ActionResult> {
  return { outcome: { kind: outcome.kind, text: outcome.text }, ...(outcome.grantId === undefined ? {} : { grant_id: outcome.grantId }) };
}

const CHANGE = 'Changes nothing when refused. Waits a few seconds for Discord (or the mail server) and says how it went.';

export const ENDPOINTS: Endpoint[] = [
  endpoint({
    method: 'get',
    path: '/members/{discordId}',
    scope: 'read',
    summary: 'One person: tiers, subscription status, the roles they should hold and why, subscriptions, grants',
    params: DiscordIdParam,
    answer: Member,
    errors: [404],
    handle({ params }, { services }) {
      if (!knownToArbiter(services, params.discordId)) {
        throw new ArbiterError('not_found', `Arbiter knows nothing of Discord ID ${params.discordId}: no subscription is linked to it and it never had a grant or block.`, { status: 404 });
      }
      return memberOf(services, params.discordId);
    },
  }),
  endpoint({
    method: 'get',
    path: '/members',
    scope: 'read',
    summary: 'Look up by email: the subscriptions with that email, and the Discord accounts linked to them',
    description: 'The email is compared whole, ignoring case. An email nobody has answers empty lists.',
    query: EmailQuery,
    answer: MembersByEmail,
    errors: [],
    handle({ query }, { services }) {
      const subscriptions = services.subscriptions.byEmail(query.email);
      const linked = [...new Set(subscriptions.flatMap((s) => (s.discord_id ? [s.discord_id] : [])))];
      return { subscriptions: subscriptions.map(subscriptionDetail), members: linked.map((id) => memberOf(services, id)) };
    },
  }),
  endpoint({
    method: 'get',
    path: '/subscriptions/{id}',
    scope: 'read',
    summary: 'One subscription',
    params: SubscriptionParam,
    answer: SubscriptionDetail,
    errors: [404],
    handle({ params }, { services }) {
      const subscription = services.subscriptions.get(params.id);
      if (!subscription) throw new ArbiterError('not_found', `There is no subscription ${params.id}.`, { status: 404 });
      return subscriptionDetail(subscription);
    },
  }),
  endpoint({
    method: 'post',
    path: '/members/{discordId}/grants',
    scope: 'write',
    summary: 'Grant a managed role, until revoked or until expires_at',
    description: `The person must be known to Arbiter or in the Discord server. ${CHANGE}`,
    params: DiscordIdParam,
    body: GrantBody,
    answer: ActionResult,
    errors: [403, 404, 503],
    async handle({ params, body }, { services, acting }) {
      const input = parseInput(GrantInput, { discordId: params.discordId, roleId: body.role_id, expiresAt: body.expires_at, reason: body.reason });
      return actionResult(await grantRole(services, acting, input));
    },
  }),
  endpoint({
    method: 'post',
    path: '/members/{discordId}/blocks',
    scope: 'write',
    summary: 'Withhold a managed role (or all of them), whatever the subscriptions give',
    description: CHANGE,
    params: DiscordIdParam,
    body: BlockBody,
    answer: ActionResult,
    errors: [403, 404, 503],
    async handle({ params, body }, { services, acting }) {
      const input = parseInput(BlockInput, { discordId: params.discordId, roleId: body.role_id, expiresAt: body.expires_at, reason: body.reason });
      return actionResult(await block(services, acting, input));
    },
  }),
  endpoint({
    method: 'post',
    path: '/members/{discordId}/grants/{grantId}/revoke',
    scope: 'write',
    summary: 'End a grant or a block in force',
    description: `409 when it has already ended. ${CHANGE}`,
    params: GrantParams,
    body: ReasonBody,
    answer: ActionResult,
    errors: [403, 404, 409, 503],
    async handle({ params, body }, { services, acting }) {
      const input = parseInput(RevokeInput, { discordId: params.discordId, grantId: params.grantId, reason: body.reason });
      return actionResult(await revokeGrant(services, acting, input));
    },
  }),
  endpoint({
    method: 'post',
    path: '/members/{discordId}/reconcile',
    scope: 'write',
    summary: "Compare the person's Discord roles with what they should hold, and fix the difference now",
    description: CHANGE,
    params: DiscordIdParam,
    body: ReasonBody,
    answer: ActionResult,
    errors: [403, 404, 503],
    async handle({ params, body }, { services, acting }) {
      const input = parseInput(MemberInput, { discordId: params.discordId, reason: body.reason });
      return actionResult(await reconcileNow(services, acting, input));
    },
  }),
  endpoint({
    method: 'post',
    path: '/subscriptions/{id}/resend-link',
    scope: 'write',
    summary: 'Email a new link to an active subscription that is not linked yet; links sent before stop working',
    description: `409 when the subscription is not active or is linked already. ${CHANGE}`,
    params: SubscriptionParam,
    body: ReasonBody,
    answer: ActionResult,
    errors: [403, 404, 409],
    async handle({ params, body }, { services, acting }) {
      const input = parseInput(SubscriptionInput, { subscriptionId: params.id, reason: body.reason });
      return actionResult(await resendLink(services, acting, input));
    },
  }),
];
