/**
 * Billing webhooks signed the way Paymenter signs them, written independently of src/webhooks/signature.ts: the tests
 * and the demo post events with these headers.
 */
import { createHmac, randomUUID } from 'node:crypto';

function key(secret: string): Buffer {
  return secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret);
}

/** Standard Webhooks: webhook-id, webhook-timestamp and `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`. */
export function standardHeaders(secret: string, body: string, options: { id?: string; timestamp?: number } = {}): Record<string, string> {
  const id = options.id ?? `msg_${randomUUID()}`;
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const signature = createHmac('sha256', key(secret)).update(`${id}.${timestamp}.${body}`).digest('base64');
  return { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` };
}

/** The legacy scheme: x-signature, the hex HMAC-SHA256 of the raw body, with or without a `sha256=` prefix. */
export function legacyHeaders(secret: string, body: string, prefix = true): Record<string, string> {
  const hex = createHmac('sha256', key(secret)).update(body).digest('hex');
  return { 'content-type': 'application/json', 'x-signature': prefix ? `sha256=${hex}` : hex };
}
