import express, { type Express } from 'express';
import { adminRoutes } from './admin/routes.js';
import { apiRoutes } from './apps/api/routes.js';
import { oidcRoutes } from './apps/oidc/routes.js';
import { healthRoutes } from './health.js';
import { accessLog } from './http/access-log.js';
import { errorHandler, notFound } from './http/errors.js';
import { protocolCheck } from './http/forwarded-proto.js';
import { metricsRoutes, requestMetrics, routeLabel } from './http/metrics.js';
import { requestId } from './http/request-id.js';
import { securityHeaders } from './http/security.js';
import type { Sessions } from './http/session.js';
import { linkRoutes } from './linking/routes.js';
import type { Services } from './services.js';
import { PUBLIC_DIR } from './views/document.js';
import { webhookRoutes } from './webhooks/route.js';

export interface AppOptions {
  sessions: Sessions;
}

/** The Express app, without listen(): tests use it as it is. */
export function createApp(services: Services, options: AppOptions): Express {
  const { config, log } = services;
  const app = express();
  app.disable('x-powered-by');
  // Express reads NODE_ENV itself; without it, it would believe it runs in development.
  app.set('env', config.env);
  app.set('trust proxy', config.trustProxy);
  const protocol = protocolCheck(config, log);
  app.use(securityHeaders({ https: config.secureCookies }));
  app.use(requestId(log));
  app.use(accessLog(log));
  app.use(requestMetrics(services.metrics));
  // Browsers ask for it on every first visit; an empty answer keeps 404s out of logs and consoles.
  app.get('/favicon.ico', (_req, res) => void res.status(204).end());
  app.use('/static', routeLabel('/static'), express.static(PUBLIC_DIR, { index: false, maxAge: '1h' }));
  app.use(healthRoutes(services, protocol));
  app.use(metricsRoutes(services));
  // After /health and /metrics: a monitor on this machine asks over plain http, and that is no sign of a wrong proxy setup.
  app.use(protocol.middleware);
  // Webhooks carry no cookies: they are routed before sessions.
  app.use(webhookRoutes(services));
  app.use(apiRoutes(services));
  app.use(options.sessions.middleware);
  app.use(linkRoutes(services));
  app.use(adminRoutes(services));
  app.use(oidcRoutes(services));
  app.get('/', (_req, res) => {
    res.type('text').send('Arbiter is running. Subscribers arrive through the link in their email.');
  });
  app.use(notFound);
  app.use(errorHandler(log));
  return app;
}
