import express, { type Request, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import { ArbiterError, errorBody } from '../errors.js';
import type { WebhookOutcome } from '../ops/metrics.js';
import type { Services } from '../services.js';
import { parseBody } from './payload.js';
import { recordDelivery, type DeliveryAnswer } from './record.js';
import { verifySignature, type SignatureHeaders, type Verification } from './signature.js';

/** What the signature check found, kept on res.locals for the rate limit and the handler after it. */
interface Checked {
  body: Buffer;
  receivedAt: Date;
  verified: Verification;
}
const checked = (res: Response) => res.locals.webhook as Checked;

/** Every value of each signature header: Node would fold repeated ones into one line with ", ". */
function signatureHeaders(req: Request): SignatureHeaders {
  const sent = req.headersDistinct;
  return {
    'webhook-id': sent['webhook-id'],
    'webhook-timestamp': sent['webhook-timestamp'],
    'webhook-signature': sent['webhook-signature'],
    'x-signature': sent['x-signature'],
  };
}

const REFUSALS: Record<Exclude<Verification, { ok: true }>['code'], WebhookOutcome> = {
  webhook_malformed: 'malformed',
  webhook_unsigned: 'unsigned',
  webhook_bad_signature: 'bad_signature',
  webhook_stale: 'stale',
};
const ANSWERS: Record<DeliveryAnswer['outcome'], WebhookOutcome> = {
  applied: 'accepted',
  // Older than what is known: accepted, and rightly not applied.
  stale: 'accepted',
  duplicate: 'duplicate',
  ignored: 'ignored',
  invalid: 'invalid',
  refused: 'refused',
};
/** Answers given before the handler knew more: by the body parser, the content type check, the rate limit. */
const BY_STATUS: Record<number, WebhookOutcome> = { 400: 'malformed', 413: 'too_large', 415: 'unsupported', 429: 'rate_limited' };

function isJson(req: Request): boolean {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

export function webhookRoutes(services: Services): express.Router {
  const { config, clock, log } = services;
  const router = express.Router();

  // Only deliveries whose signature failed count, after the check: a signed delivery is never refused here, however
  // many of the sender's deliveries were refused before (a 422 is the sender's data, not an attack).
  const failedSignatures = rateLimit({
    windowMs: 60_000,
    limit: 120,
    skip: (_req, res) => checked(res).verified.ok,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (_req, res) => {
      res.status(429).json(errorBody(new ArbiterError('rate_limited', 'too many deliveries with a failed signature; wait a minute')));
    },
  });

  router.post(
    '/webhook/billing',
    (_req, res, next) => {
      res.on('finish', () => {
        const known = res.locals.webhookOutcome as WebhookOutcome | undefined;
        services.metrics.webhook(known ?? BY_STATUS[res.statusCode] ?? 'error');
      });
      next();
    },
    (req, _res, next) => {
      if (!isJson(req)) throw new ArbiterError('unsupported_media_type', 'Content-Type must be application/json', { status: 415 });
      next();
    },
    express.raw({ type: () => true, limit: config.webhookMaxBytes }),
    (req: Request, res: Response, next) => {
      const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const receivedAt = clock.now();
      res.locals.webhook = { body, receivedAt, verified: verifySignature(signatureHeaders(req), body, config.webhookSecrets, receivedAt) } satisfies Checked;
      next();
    },
    failedSignatures,
    async (req: Request, res: Response) => {
      const { body, receivedAt, verified } = checked(res);
      if (!verified.ok) {
        res.locals.webhookOutcome = REFUSALS[verified.code];
        log.warn({ refusal: verified.code, ip: req.ip }, 'webhook refused');
        throw new ArbiterError(verified.code, verified.message, { status: verified.status });
      }
      const parsed = parseBody(body);
      if (parsed.kind === 'malformed') throw new ArbiterError('webhook_malformed', parsed.message, { status: 400 });

      const answer = await services.commits.run(() => recordDelivery(services, { verified, parsed, body, receivedAt }));
      log.info({ delivery: answer.deliveryId.slice(0, 80), scheme: verified.scheme, type: answer.type, outcome: answer.outcome }, 'webhook received');
      res.locals.webhookOutcome = ANSWERS[answer.outcome];
      res.status(answer.status).json(answer.body);
    },
  );
  return router;
}
