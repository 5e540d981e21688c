/**
 * The one error type of Arbiter. `code` is stable: it appears in HTTP answers, job errors and logs, and other
 * programs may match on it. `status` is the HTTP status when the error reaches a client.
 */
export type ErrorCode =
  | 'config_invalid'
  | 'bad_request'
  | 'not_found'
  | 'conflict'
  | 'csrf_failed'
  | 'not_signed_in'
  | 'forbidden'
  | 'rate_limited'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'webhook_malformed'
  | 'webhook_unsigned'
  | 'webhook_bad_signature'
  | 'webhook_stale'
  | 'webhook_invalid'
  | 'oauth_failed'
  | 'email_failed'
  | 'discord_unavailable'
  | 'discord_unauthorized'
  | 'discord_rate_limited'
  | 'discord_missing_permissions'
  | 'discord_unknown_role'
  | 'discord_unknown_member'
  | 'discord_unknown_guild'
  | 'ghost_unavailable'
  | 'ghost_rejected'
  | 'internal';

export interface ErrorOptions {
  status?: number;
  details?: unknown;
  /** Jobs: whether a later attempt may succeed. */
  retryable?: boolean;
  /** Jobs: the earliest useful retry, e.g. from a 429's retry_after. */
  retryAfterMs?: number;
  /**
   * Jobs: not this job's fault, and every job of its lane would meet the same wall (a rate limit, a rejected
   * bot token): the job waits without spending an attempt, and its lane pauses.
   */
  pauseLane?: boolean;
  cause?: unknown;
}

export class ArbiterError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly pauseLane: boolean;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ArbiterError';
    this.code = code;
    this.status = options.status ?? 500;
    this.details = options.details;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.pauseLane = options.pauseLane ?? false;
  }
}

export function isArbiterError(err: unknown): err is ArbiterError {
  return err instanceof ArbiterError;
}

/** The body every error answer has: `{"error": {"code", "message", "details"}}`, details null when there is nothing more. */
export function errorBody(err: ArbiterError): { error: { code: ErrorCode; message: string; details: unknown } } {
  return { error: { code: err.code, message: err.message, details: err.details ?? null } };
}
