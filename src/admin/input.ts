/** Input checks shared by every admin action: the reason, and turning a schema's complaints into one 400. */
import { z } from 'zod';
import { SNOWFLAKE } from '../config.js';
import { ArbiterError } from '../errors.js';

export const REASON_MIN = 3;
export const REASON_MAX = 500;
const LENGTH = `${REASON_MIN} to ${REASON_MAX} characters`;

export const DiscordId = z.string().regex(SNOWFLAKE, 'The address does not name a Discord ID (17 to 20 digits).');
export const SubscriptionId = z.string().min(1).max(200, 'The address does not name a subscription.');

/** Why an admin made a change: kept in the audit log next to their name. */
export const Reason = z
  .string({ error: `Give a reason of ${LENGTH}; it is kept in the audit log.` })
  .trim()
  .min(REASON_MIN, `The reason is too short: give a reason of ${LENGTH}; it is kept in the audit log.`)
  .max(REASON_MAX, `The reason is too long: give a reason of ${LENGTH}.`);

/** Checks raw input against a schema; a 400 listing every problem, in words, when it does not fit. */
export function parseInput<T extends z.ZodType>(schema: T, raw: unknown): z.output<T> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const problems = [...new Set(result.error.issues.map((i) => i.message))];
  throw new ArbiterError('bad_request', `${problems.join(' ')} Nothing was changed.`, { status: 400, details: problems });
}
