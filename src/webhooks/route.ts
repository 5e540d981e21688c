import { createHash } from 'node:crypto';
import express, { type Request, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import { ArbiterError, errorBody } from '../errors.js';
import type { Services } from '../services.js';
import { applyEvent } from './apply.js';
import { parseBody, SETS_TIER, type ParsedBody } from './payload.js';
import { verifySignature, type SignatureHeaders } from './signature.js';
import type { DedupeBy, Outcome } from './store.js';

type Answer = { status: 200 | 422; body: unknown };

function header(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(' ') : value;
}

function isJson(req: Request): boolean {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

/** Which earlier delivery this one would repeat: Standard Webhooks by webhook-id, legacy by event_id, else the body. */
function deliveryKey(scheme: 'standard' | 'legacy', webhookId: string | undefined, parsed: ParsedBody, body: Buffer): { id: string; dedupe: DedupeBy } {
  if (scheme === 'standard') return { id: webhookId!, dedupe: 'webhook-id' };
  const value = parsed.kind === 'event' ? parsed.event : parsed.kind === 'malformed' ? undefined : (parsed.value as Record<string, unknown>);
  const eventId = value && typeof value.event_id === 'string' && value.event_id.length > 0 ? value.event_id : undefined;
  if (eventId) return { id: `event:${eventId}`, dedupe: 'event-id' };
  return { id: `sha256:${createHash('sha256').update(body).digest('hex')}`, dedupe: 'body-sha256' };
}

export function webhookRoutes(services: Services): express.Router {
  const { config, clock, log, commits, webhookEvents } = services;
  const router = express.Router();

  // Only failed deliveries count, so a busy billing system is never slowed down by its own retries.
  const failures = rateLimit({
    windowMs: 60_000,
    limit: 120,
    skipSuccessfulRequests: true,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (_req, res) => {
      res.status(429).json(errorBody(new ArbiterError('rate_limited', 'too many failed webhook deliveries; wait a minute')));
    },
  });

  router.post(
    '/webhook/billing',
    failures,
    (req, _res, next) => {
      if (!isJson(req)) throw new ArbiterError('unsupported_media_type', 'Content-Type must be application/json', { status: 415 });
      next();
    },
    express.raw({ type: () => true, limit: config.webhookMaxBytes }),
    async (req: Request, res: Response) => {
      const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const now = clock.now();
      const headers: SignatureHeaders = {
        'webhook-id': header(req, 'webhook-id'),
        'webhook-timestamp': header(req, 'webhook-timestamp'),
        'webhook-signature': header(req, 'webhook-signature'),
        'x-signature': header(req, 'x-signature'),
      };
      const verified = verifySignature(headers, body, config.webhookSecrets, now);
      if (!verified.ok) {
        log.warn({ refusal: verified.code, ip: req.ip }, 'webhook refused');
        throw new ArbiterError(verified.code, verified.message, { status: verified.status });
      }
      const parsed = parseBody(body);
      if (parsed.kind === 'malformed') throw new ArbiterError('webhook_malformed', parsed.message, { status: 400 });

      const key = deliveryKey(verified.scheme, verified.scheme === 'standard' ? verified.webhookId : undefined, parsed, body);
      const receivedAt = now.toISOString();
      let errors: string[] = [];
      if (parsed.kind === 'invalid') errors = parsed.errors;
      if (parsed.kind === 'event' && SETS_TIER.has(parsed.event.event) && !config.tiers[parsed.event.tier]) {
        errors = [`tier: "${parsed.event.tier}" is not a tier in roles.json (known: ${Object.keys(config.tiers).join(', ')})`];
      }

      const answer = await commits.run((): Answer & { outcome: Outcome | 'duplicate' } => {
        const earlier = webhookEvents.findDuplicate(key.id, key.dedupe, now);
        if (earlier) {
          return earlier.outcome === 'invalid'
            ? { status: 422, outcome: 'duplicate', body: invalidBody(JSON.parse(earlier.errors ?? '[]') as string[]) }
            : { status: 200, outcome: 'duplicate', body: { status: 'duplicate' } };
        }
        const event = parsed.kind === 'event' ? parsed.event : undefined;
        let outcome: Outcome;
        if (errors.length > 0) outcome = 'invalid';
        else if (parsed.kind === 'unknown') outcome = 'ignored';
        else {
          const eventAt = event!.occurred_at
            ? new Date(event!.occurred_at).toISOString()
            : verified.scheme === 'standard'
              ? new Date(verified.timestamp * 1000).toISOString()
              : receivedAt;
          outcome = applyEvent(services, event!, eventAt, receivedAt);
        }
        const value = parsed.kind === 'event' ? parsed.event : (parsed.value as Record<string, unknown>);
        webhookEvents.insert({
          delivery_id: key.id,
          dedupe: key.dedupe,
          scheme: verified.scheme,
          type: parsed.kind === 'event' ? parsed.event.event : parsed.eventType,
          subscription_id: typeof value.subscription_id === 'string' ? value.subscription_id.slice(0, 200) : null,
          payload: body.toString('utf8'),
          received_at: receivedAt,
          occurred_at: event?.occurred_at ? new Date(event.occurred_at).toISOString() : null,
          outcome,
          errors: errors.length > 0 ? JSON.stringify(errors) : null,
        });
        if (outcome === 'invalid') return { status: 422, outcome, body: invalidBody(errors) };
        return { status: 200, outcome, body: { status: outcome === 'ignored' ? 'ignored' : 'accepted' } };
      });

      log.info(
        { delivery: key.id.slice(0, 80), scheme: verified.scheme, type: parsed.kind === 'event' ? parsed.event.event : parsed.eventType, outcome: answer.outcome },
        'webhook received',
      );
      res.status(answer.status).json(answer.body);
    },
  );
  return router;
}

function invalidBody(errors: string[]) {
  return errorBody(new ArbiterError('webhook_invalid', 'the payload is signed but not valid; it was kept for admins to see', { details: errors }));
}
