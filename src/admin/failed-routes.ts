import { Router, type RequestHandler } from 'express';
import type { Services } from '../services.js';
import { failedPage } from '../views/admin/failed.js';
import { adminIdentity } from './auth.js';
import { panelContext, setFlash } from './context.js';
import { listDeadJobs, listInvalidDeliveries, parseJobId, parseReason, retryAllJobs, retryAllWords, retryJob, retryWords } from './failed.js';

export function failedRoutes(services: Services, write: RequestHandler[]): Router {
  const router = Router();

  router.get('/admin/failed', (req, res) => {
    res.type('html').send(failedPage(panelContext(req, res), { dead: listDeadJobs(services), deliveries: listInvalidDeliveries(services) }));
  });

  router.post('/admin/failed/retry-all', ...write, async (req, res) => {
    const reason = parseReason(req.body);
    setFlash(req, retryAllWords(await retryAllJobs(services, adminIdentity(res), reason)));
    res.redirect(303, '/admin/failed');
  });

  router.post('/admin/failed/:id/retry', ...write, async (req, res) => {
    const reason = parseReason(req.body);
    setFlash(req, retryWords(await retryJob(services, adminIdentity(res), parseJobId(req.params.id), reason)));
    res.redirect(303, '/admin/failed');
  });

  return router;
}
