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

/** A header as sent: one value, or every value when it was sent more than once (Node's headersDistinct). */
export type HeaderValue = string | readonly string[] | undefined;

export interface SignatureHeaders {
  'webhook-id'?: HeaderValue;
  'webhook-timestamp'?: HeaderValue;
  'webhook-signature'?: HeaderValue;
  'x-signature'?: HeaderValue;
}

type Refusal = Extract<Verification, { ok: false }>;

function malformed(message: string): Refusal {
  return { ok: false, status: 400, code: 'webhook_malformed', message };
}

/** The first of these headers that was sent more than once: they name one delivery, so two copies are malformed. */
function repeated(headers: SignatureHeaders, names: readonly (keyof SignatureHeaders)[]): Refusal | undefined {
  const name = names.find((n) => typeof headers[n] === 'object' && headers[n]!.length > 1);
  return name && malformed(`${name} must be sent once`);
}

function single(value: HeaderValue): string | undefined {
  return typeof value === 'object' ? value[0] : value;
}

/**
 * The signatures of a webhook-signature header: "v1,<base64> v2,...", space-separated. Several headers, or several
 * folded into one line with ", " by Node or a proxy, are one list. Entries that are not "v<n>,<value>" are skipped.
 */
function signatureEntries(value: HeaderValue): { version: string; signature: string }[] {
  return (typeof value === 'object' ? value.join(' ') : value ?? '')
    .split(/\s+/)
    .map((entry) => /^(v\d+),([^,]+),?$/.exec(entry))
    .filter((match) => match !== null)
    .map(([, version, signature]) => ({ version: version!, signature: signature! }));
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
  const twice = repeated(headers, ['webhook-id', 'webhook-timestamp']);
  if (twice) return twice;
  const id = single(headers['webhook-id']);
  const timestamp = single(headers['webhook-timestamp']);
  const signature = headers['webhook-signature'];
  if (!id || !timestamp || [signature ?? ''].flat().join('').trim() === '') {
    return { ok: false, status: 401, code: 'webhook_unsigned', message: 'webhook-id, webhook-timestamp and webhook-signature are all required' };
  }
  if (id.length > 255 || /[\s.]/.test(id)) return malformed('webhook-id must be at most 255 characters, without spaces or dots');
  if (!/^\d{1,12}$/.test(timestamp)) return malformed('webhook-timestamp must be whole seconds since 1970');
  const entries = signatureEntries(signature);
  if (entries.length === 0) return malformed('webhook-signature must hold entries of the form v1,<base64>, separated by spaces');
  const seconds = Number(timestamp);
  if (Math.abs(now.getTime() / 1000 - seconds) > TOLERANCE_SECONDS) {
    return { ok: false, status: 401, code: 'webhook_stale', message: `webhook-timestamp is more than ${TOLERANCE_SECONDS} s away from now` };
  }
  // Only v1 entries count; any one of them matching any secret is enough.
  const candidates = entries.filter((e) => e.version === 'v1').map((e) => Buffer.from(e.signature, 'base64'));
  let valid = false;
  for (const secret of secrets) {
    const expected = standardSignature(secret, id, timestamp, body);
    for (const candidate of candidates) valid = safeEqual(candidate, expected) || valid;
  }
  if (!valid) return { ok: false, status: 401, code: 'webhook_bad_signature', message: 'no v1 signature matches' };
  return { ok: true, scheme: 'standard', webhookId: id, timestamp: seconds };
}

export function verifyLegacy(headers: SignatureHeaders, body: Buffer, secrets: readonly Buffer[]): Verification {
  const twice = repeated(headers, ['x-signature']);
  if (twice) return twice;
  const header = single(headers['x-signature'])?.trim();
  if (!header) return { ok: false, status: 401, code: 'webhook_unsigned', message: 'x-signature is required' };
  const hex = header.toLowerCase().startsWith('sha256=') ? header.slice('sha256='.length) : header;
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) return malformed('x-signature must be 64 hex characters (optionally after sha256=)');
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
