/** Signs webhooks the way a billing system does, written independently of src/webhooks/signature.ts. */
import { createHmac, randomUUID } from 'node:crypto';

export function standardHeaders(secret: string, body: string, options: { id?: string; timestamp?: number } = {}): Record<string, string> {
  const id = options.id ?? `msg_${randomUUID()}`;
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret);
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` };
}

export function legacyHeaders(secret: string, body: string, prefix = true): Record<string, string> {
  const key = secret.startsWith('whsec_') ? Buffer.from(secret.slice(6), 'base64') : Buffer.from(secret);
  const hex = createHmac('sha256', key).update(body).digest('hex');
  return { 'content-type': 'application/json', 'x-signature': prefix ? `sha256=${hex}` : hex };
}

export interface EventFields {
  event?: string;
  customer_email?: string;
  customer_name?: string;
  tier?: string;
  subscription_id?: string;
  event_id?: string;
  occurred_at?: string;
}

export function eventBody(fields: EventFields = {}): string {
  return JSON.stringify({
    event: 'subscription.created',
    customer_email: 'ada@example.com',
    customer_name: 'Ada',
    tier: 'awakened',
    subscription_id: 'sub_1',
    ...fields,
  });
}

export async function postWebhook(baseUrl: string, body: string, headers: Record<string, string>) {
  const res = await fetch(`${baseUrl}/webhook/billing`, { method: 'POST', headers, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json: json as Record<string, unknown> & { status?: string; error?: { code: string; details?: string[] } }, text };
}
