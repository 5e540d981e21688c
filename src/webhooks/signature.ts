/**
 * Webhook signatures, pure functions over the raw body. Two schemes are accepted: Standard Webhooks
 * (webhook-id / webhook-timestamp / webhook-signature) and the legacy x-signature hex HMAC of the body.
 * Every comparison is constant-time; every configured secret is tried so that secrets can be rotated.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const TOLERANCE_SECONDS = 300;

export type Verification =
  | { ok: true; scheme: 'standard'; webhookId: string; timestamp: number }
  | { ok: true; scheme: 'legacy' }
  | { ok: false; status: 400 | 401; code: 'webhook_malformed' | 'webhook_unsigned' | 'webhook_bad_signature' | 'webhook_stale'; message: string };

export interface SignatureHeaders {
  'webhook-id'?: string | undefined;
  'webhook-timestamp'?: string | undefined;
  'webhook-signature'?: string | undefined;
  'x-signature'?: string | undefined;
}

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export function standardSignature(secret: Buffer, id: string, timestamp: string, body: Buffer): Buffer {
  return createHmac('sha256', secret).update(`${id}.${timestamp}.`).update(body).digest();
}

export function legacySignature(secret: Buffer, body: Buffer): Buffer {
  return createHmac('sha256', secret).update(body).digest();
}

export function verifyStandard(
  headers: SignatureHeaders,
  body: Buffer,
  secrets: readonly Buffer[],
  now: Date,
): Verification {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signature = headers['webhook-signature'];
  if (!id || !timestamp || !signature) {
    return { ok: false, status: 401, code: 'webhook_unsigned', message: 'webhook-id, webhook-timestamp and webhook-signature are all required' };
  }
  if (id.length > 255 || /[\s.]/.test(id)) {
    return { ok: false, status: 400, code: 'webhook_malformed', message: 'webhook-id must be at most 255 characters, without spaces or dots' };
  }
  if (!/^\d{1,12}$/.test(timestamp)) {
    return { ok: false, status: 400, code: 'webhook_malformed', message: 'webhook-timestamp must be whole seconds since 1970' };
  }
  const seconds = Number(timestamp);
  if (Math.abs(now.getTime() / 1000 - seconds) > TOLERANCE_SECONDS) {
    return { ok: false, status: 401, code: 'webhook_stale', message: `webhook-timestamp is more than ${TOLERANCE_SECONDS} s away from now` };
  }
  // "v1,<base64> v1,<base64> v2,..." : only v1 entries count; any one of them matching any secret is enough.
  const candidates = signature
    .split(' ')
    .map((entry) => entry.split(','))
    .filter((parts): parts is [string, string] => parts.length === 2 && parts[0] === 'v1')
    .map(([, b64]) => Buffer.from(b64, 'base64'));
  let valid = false;
  for (const secret of secrets) {
    const expected = standardSignature(secret, id, timestamp, body);
    for (const candidate of candidates) valid = safeEqual(candidate, expected) || valid;
  }
  if (!valid) return { ok: false, status: 401, code: 'webhook_bad_signature', message: 'no v1 signature matches' };
  return { ok: true, scheme: 'standard', webhookId: id, timestamp: seconds };
}

export function verifyLegacy(headers: SignatureHeaders, body: Buffer, secrets: readonly Buffer[]): Verification {
  const header = headers['x-signature']?.trim();
  if (!header) return { ok: false, status: 401, code: 'webhook_unsigned', message: 'x-signature is required' };
  const hex = header.toLowerCase().startsWith('sha256=') ? header.slice('sha256='.length) : header;
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    return { ok: false, status: 401, code: 'webhook_bad_signature', message: 'x-signature must be 64 hex characters (optionally after sha256=)' };
  }
  const candidate = Buffer.from(hex, 'hex');
  let valid = false;
  for (const secret of secrets) valid = safeEqual(candidate, legacySignature(secret, body)) || valid;
  if (!valid) return { ok: false, status: 401, code: 'webhook_bad_signature', message: 'x-signature does not match' };
  return { ok: true, scheme: 'legacy' };
}

/** Standard Webhooks when its headers are present, else the legacy header. */
export function verifySignature(headers: SignatureHeaders, body: Buffer, secrets: readonly Buffer[], now: Date): Verification {
  const standard = headers['webhook-signature'] !== undefined || headers['webhook-id'] !== undefined || headers['webhook-timestamp'] !== undefined;
  if (standard) return verifyStandard(headers, body, secrets, now);
  if (headers['x-signature'] !== undefined) return verifyLegacy(headers, body, secrets);
  return { ok: false, status: 401, code: 'webhook_unsigned', message: 'no signature: send Standard Webhooks headers or x-signature' };
}
