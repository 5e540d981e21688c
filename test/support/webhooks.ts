/** Billing webhooks for tests: bodies, and posting them signed (stand-ins/paymenter.ts signs them). */
export { legacyHeaders, standardHeaders } from '../../stand-ins/paymenter.js';

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
