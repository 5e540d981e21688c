/**
 * GET /metrics for Prometheus, and the timing of every request by route. The metrics are for this machine, or for a
 * scraper elsewhere that sends METRICS_TOKEN as a bearer token; they never need a session.
 */
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { ArbiterError, errorBody } from '../errors.js';
import type { Metrics } from '../ops/metrics.js';
import type { Services } from '../services.js';
import { localOrToken } from './local-or-token.js';

const REFUSED = new ArbiterError(
  'forbidden',
  'Metrics are served to requests from this machine only, or to requests that carry METRICS_TOKEN as a bearer token (Authorization: Bearer <METRICS_TOKEN>).',
  { status: 403 },
);

export function metricsRoutes(services: Pick<Services, 'config' | 'metrics'>): Router {
  const router = Router();
  router.get('/metrics', async (req, res) => {
    if (!localOrToken(req, services.config.metricsToken)) {
      res.status(REFUSED.status).json(errorBody(REFUSED));
      return;
    }
    const { registry } = services.metrics;
    const text = await registry.metrics();
    res.setHeader('Cache-Control', 'no-store');
    res.type(registry.contentType).send(text);
  });
  return router;
}

/** Names the requests a middleware answers outside any route (static files) by one fixed label. */
export function routeLabel(label: string): RequestHandler {
  return (_req, res, next) => {
    res.locals.metricsRoute = label;
    next();
  };
}

/**
 * The route a request took, as a pattern: the router's mount path and the route's path (`/link/:token`). The mount
 * path is what the request matched, so only plain words of it are kept. A middleware mounted at a path that
 * answered before any route (the panel's sign-in check) is `<mount>/*`; a request nothing took is `unmatched`: its
 * path may carry anything, tokens included.
 */
function routeOf(req: Request, res: Response): string {
  const label = res.locals.metricsRoute;
  if (typeof label === 'string') return label;
  const mount = req.baseUrl.toLowerCase().split('/').map((s) => (s === '' || /^[a-z][a-z0-9_.-]{0,31}$/.test(s) ? s : ':param')).join('/');
  const pattern = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof pattern === 'string') return `${mount}${pattern}`;
  return mount ? `${mount}/*` : 'unmatched';
}

export function requestMetrics(metrics: Pick<Metrics, 'httpRequest'>): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      metrics.httpRequest(req.method, routeOf(req, res), res.statusCode, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}
