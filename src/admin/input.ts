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

const TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:\d{2})?)?$/i;

export type TimeReading = { start: number; end: number } | { problem: 'format' | 'date' | 'zone' };

/**
 * A date or a time as typed in a form, UTC unless it names an offset, and the span it names: a day, a minute, a
 * second or a millisecond (epoch ms, end exclusive). A day that does not exist (February 30th) is a problem, not
 * another day.
 */
export function readTime(value: string): TimeReading {
  const m = TIME.exec(value);
  if (!m) return { problem: 'format' };
  const [, y, mo, d, h, mi, s, ms, zone] = m;
  const parts = [Number(y), Number(mo) - 1, Number(d), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0), Number((ms ?? '0').padEnd(3, '0'))] as const;
  const local = new Date(0);
  local.setUTCFullYear(parts[0], parts[1], parts[2]);
  local.setUTCHours(parts[3], parts[4], parts[5], parts[6]);
  const real =
    local.getUTCFullYear() === parts[0] && local.getUTCMonth() === parts[1] && local.getUTCDate() === parts[2] &&
    local.getUTCHours() === parts[3] && local.getUTCMinutes() === parts[4] && local.getUTCSeconds() === parts[5];
  if (!real || parts[0] < 1970) return { problem: 'date' };
  let offsetMin = 0;
  if (zone && zone.toUpperCase() !== 'Z') {
    const [oh, om] = zone.slice(1).split(':').map(Number) as [number, number];
    if (oh > 14 || om > 59) return { problem: 'zone' };
    offsetMin = (zone.startsWith('-') ? -1 : 1) * (oh * 60 + om);
  }
  const start = local.getTime() - offsetMin * 60_000;
  const span = h === undefined ? 86_400_000 : s === undefined ? 60_000 : ms === undefined ? 1000 : 1;
  return { start, end: start + span };
}
