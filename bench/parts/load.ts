/**
 * The load generator, in its own process: autocannon posting signed `subscription.created` webhooks, each with its
 * own webhook-id, subscription and email (so none is a duplicate). The signed deliveries are made before the clock
 * starts (a pool); should the pool run out, the rest are signed as they are sent, and counted. Every answer is
 * checked: a 200 with {"status":"accepted"} is counted as accepted, anything else by status and body.
 */
import autocannon, { type Request, type Result } from 'autocannon';
import { createHmac } from 'node:crypto';
import { emit, serve } from './rpc.js';
import { monoUs, wallMs } from './time.js';

export interface LoadPlan {
  /** The server's base URL; the webhooks go to /webhook/billing. */
  url: string;
  connections: number;
  /** A run of this many seconds first, not counted (the pool goes on, so its deliveries are new too). */
  warmupSeconds: number;
  /** Either a fixed duration... */
  durationSeconds?: number;
  /** ...or a fixed number of requests. */
  amount?: number;
  /** Deliveries signed before the clock starts. */
  pool: number;
  /** The webhook secret (Standard Webhooks, whsec_...). */
  secret: string;
  /** Makes ids and emails unique to this run. */
  tag: string;
  /** Return the email of every accepted delivery (to check the mail that follows). */
  keepAccepted?: boolean;
}

export interface LoadPhase {
  seconds: number;
  requestsPerSecond: number;
  /** autocannon's mean of its per-second samples. */
  requestsPerSecondSampled: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  accepted: number;
  /** Answers other than 200 {"status":"accepted"}, by "status body". */
  other: Record<string, number>;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  startedAt: number;
  endedAt: number;
  /** The same moments on the monotonic clock (to cut a CPU profile to this phase). */
  startedMonoUs: number;
  endedMonoUs: number;
}

export interface LoadResult {
  warmup: LoadPhase | null;
  measured: LoadPhase;
  signedBeforeStart: number;
  signedLive: number;
  acceptedEmails?: string[];
}

const ACCEPTED = '{"status":"accepted"}';

function signer(plan: LoadPlan) {
  const key = plan.secret.startsWith('whsec_') ? Buffer.from(plan.secret.slice(6), 'base64') : Buffer.from(plan.secret);
  return (i: number, timestamp: string) => {
    const id = `msg_${plan.tag}_${i}`;
    const body = JSON.stringify({
      event: 'subscription.created',
      customer_email: emailOf(plan.tag, i),
      customer_name: `Subscriber ${i}`,
      tier: 'awakened',
      subscription_id: `sub_${plan.tag}_${i}`,
    });
    const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
    return { id, body, signature };
  };
}

function emailOf(tag: string, i: number): string {
  return `${tag}-${i}@bench.example`;
}

async function run(plan: LoadPlan): Promise<LoadResult> {
  const sign = signer(plan);
  const poolTimestamp = String(Math.floor(Date.now() / 1000));
  const pool: (ReturnType<typeof sign> | undefined)[] = Array.from({ length: plan.pool }, (_, i) => sign(i, poolTimestamp));
  let next = 0;
  let signedLive = 0;
  let tally = { accepted: 0, other: {} as Record<string, number> };
  const acceptedEmails: string[] = [];

  const request: Request = {
    method: 'POST',
    path: '/webhook/billing',
    setupRequest(req, context) {
      const i = next++;
      let timestamp = poolTimestamp;
      let signed = pool[i];
      if (!signed) {
        timestamp = String(Math.floor(Date.now() / 1000));
        signed = sign(i, timestamp);
        signedLive++;
      } else pool[i] = undefined; // sent once: let it go
      context.index = i;
      return {
        ...req,
        headers: { 'content-type': 'application/json', 'webhook-id': signed.id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signed.signature}` },
        body: signed.body,
      };
    },
    onResponse(status, body, context) {
      if (status === 200 && body === ACCEPTED) {
        tally.accepted++;
        if (plan.keepAccepted) acceptedEmails.push(emailOf(plan.tag, context.index as number));
      } else {
        const key = `${status} ${body.slice(0, 120)}`;
        tally.other[key] = (tally.other[key] ?? 0) + 1;
      }
    },
  };

  const phase = async (options: { duration?: number; amount?: number }): Promise<LoadPhase> => {
    tally = { accepted: 0, other: {} };
    const startedAt = wallMs();
    const startedMonoUs = monoUs();
    const result: Result = await autocannon({ url: plan.url, connections: plan.connections, timeout: 30, requests: [request], ...options });
    const endedAt = wallMs();
    const endedMonoUs = monoUs();
    const seconds = (endedAt - startedAt) / 1000;
    const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, { count }]) => [code, Number(count)]));
    const answered = Object.values(statusCodes).reduce((a, b) => a + b, 0);
    return {
      seconds,
      requestsPerSecond: answered / seconds,
      requestsPerSecondSampled: result.requests.average,
      latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max, mean: result.latency.mean },
      accepted: tally.accepted,
      other: tally.other,
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      statusCodes,
      startedAt,
      endedAt,
      startedMonoUs,
      endedMonoUs,
    };
  };

  const warmup = plan.warmupSeconds > 0 ? await phase({ duration: plan.warmupSeconds }) : null;
  emit('measuring');
  const measured = await phase(plan.amount !== undefined ? { amount: plan.amount } : { duration: plan.durationSeconds ?? 10 });
  emit('measured');
  return {
    warmup,
    measured,
    signedBeforeStart: Math.min(plan.pool, next),
    signedLive,
    ...(plan.keepAccepted ? { acceptedEmails } : {}),
  };
}

serve({ run });
