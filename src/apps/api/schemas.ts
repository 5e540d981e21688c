/**
 * The shapes of /api/v1: what the routes check every request against (strict: an unknown field is refused), and
 * what they answer. The OpenAPI document is generated from these same schemas.
 */
import { z } from 'zod';
import { DiscordId, readTime, Reason, SubscriptionId } from '../../admin/input.js';

const SNOWFLAKE_WORDS = 'a Discord ID: 17 to 20 digits';

export const DiscordIdParam = z.strictObject({ discordId: DiscordId.meta({ description: SNOWFLAKE_WORDS, example: '80351110224678912' }) });
export const SubscriptionParam = z.strictObject({ id: SubscriptionId.meta({ description: "the billing system's subscription ID", example: 'sub_123' }) });
export const GrantParams = z.strictObject({
  discordId: DiscordIdParam.shape.discordId,
  grantId: z.string().regex(/^\d{1,15}$/, 'The address does not name a grant or block number.').meta({ description: 'the number of a grant or block', example: '12' }),
});

export const EmailQuery = z.strictObject({
  email: z
    .email({ error: 'Give one whole email address, such as name@example.com.' })
    .max(254, 'An email address is at most 254 characters.')
    .meta({ description: 'compared whole, ignoring case', example: 'ada@example.com' }),
});

const RoleId = z.string({ error: `Give role_id, ${SNOWFLAKE_WORDS}.` }).regex(/^\d{17,20}$/, `role_id must be ${SNOWFLAKE_WORDS}.`);
const EXPIRY_WORDS = 'expires_at must be a date as YYYY-MM-DD or a time as YYYY-MM-DDTHH:MM[:SS], in UTC unless it ends with an offset such as +02:00.';
const ExpiresAt = z
  .string({ error: EXPIRY_WORDS })
  .max(40, EXPIRY_WORDS)
  .refine((value) => !('problem' in readTime(value)), EXPIRY_WORDS)
  .meta({ description: 'when it ends (a date means 00:00 UTC that day); leave it out for no end', example: '2030-01-31T18:00' });
const ReasonField = Reason.meta({ description: 'why; kept in the audit log with the name of the key', example: 'Moderates the weekly events' });

export const GrantBody = z.strictObject({
  role_id: RoleId.meta({ description: 'a role managed by Arbiter (one of the tiers in roles.json)' }),
  expires_at: ExpiresAt.optional(),
  reason: ReasonField,
});
export const BlockBody = z.strictObject({
  role_id: z
    .union([RoleId, z.literal('all')], { error: `role_id must be ${SNOWFLAKE_WORDS}, or "all".` })
    .meta({ description: 'a role managed by Arbiter, or "all" to withhold every managed role' }),
  expires_at: ExpiresAt.optional(),
  reason: ReasonField,
});
export const ReasonBody = z.strictObject({ reason: ReasonField });

/* Answers. */

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().meta({ description: 'stable; programs may match on it', example: 'bad_request' }),
      message: z.string().meta({ description: 'what went wrong, in words' }),
      details: z.unknown().meta({ description: 'null, or more: for a 400, a list of {in, field, message}' }),
    }),
  })
  .meta({ id: 'Error', description: 'Every error answer.' });

const Status = z.enum(['active', 'suspended', 'cancelled']);

export const SubscriptionSummary = z
  .object({ id: z.string(), tier: z.string(), status: Status, linked: z.boolean().meta({ description: 'a Discord account is linked to it' }) })
  .meta({ id: 'SubscriptionSummary' });

export const SubscriptionDetail = z
  .object({
    id: z.string(),
    email: z.string(),
    name: z.string(),
    tier: z.string(),
    status: Status,
    linked: z.boolean(),
    discord_id: z.string().nullable(),
    linked_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'Subscription' });

export const Grant = z
  .object({
    id: z.number().int(),
    kind: z.enum(['grant', 'block']),
    role_id: z.string().nullable().meta({ description: 'null for a block of every managed role' }),
    reason: z.string(),
    expires_at: z.string().nullable(),
    created_at: z.string(),
    created_by: z.string().meta({ description: 'admin:<Discord ID>, cli:<login> or api:<key name>' }),
  })
  .meta({ id: 'Grant' });

export const Member = z
  .object({
    discord_id: z.string(),
    tiers: z.array(z.string()).meta({ description: 'tiers of their active subscriptions, sorted' }),
    subscription_status: z.enum(['active', 'suspended', 'cancelled', 'none']).meta({ description: 'active if any subscription is, else suspended, else cancelled; none without one' }),
    roles: z
      .array(z.object({ role_id: z.string(), reasons: z.array(z.string()) }))
      .meta({ description: 'the managed roles they should hold, each with why (from the database, not Discord)' }),
    subscriptions: z.array(SubscriptionSummary),
    grants: z.array(Grant).meta({ description: 'grants and blocks in force' }),
  })
  .meta({ id: 'Member' });

export const MembersByEmail = z
  .object({
    subscriptions: z.array(SubscriptionDetail).meta({ description: 'every subscription with that email' }),
    members: z.array(Member).meta({ description: 'the Discord accounts linked to them' }),
  })
  .meta({ id: 'MembersByEmail' });

export const ActionResult = z
  .object({
    outcome: z.object({
      kind: z.enum(['applied', 'queued', 'failed']).meta({
        description: 'applied: done on Discord or sent; queued: recorded and carried out shortly; failed: recorded, but Discord or the mail server refused (the text says why)',
      }),
      text: z.string(),
    }),
    grant_id: z.number().int().optional().meta({ description: 'the number of the new grant or block, for revoking it' }),
  })
  .meta({ id: 'ActionResult' });
