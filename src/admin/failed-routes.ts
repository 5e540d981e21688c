import { Router, type RequestHandler } from 'express';
import type { Services } from '../services.js';
import { failedPage } from '../views/admin/failed.js';
import { adminIdentity } from './auth.js';
import { panelContext, setFlash } from './context.js';
import { listDeadJobs, listInvalidDeliveries, parseJobId, parseReason, retryAllJobs, retryJob } from './failed.js';

export function failedRoutes(services: Services, write: RequestHandler[]): Router {
  const router = Router();

  router.get('/admin/failed', (req, res) => {
    res.type('html').send(failedPage(panelContext(req, res), { dead: listDeadJobs(services), deliveries: listInvalidDeliveries(services) }));
  });

  router.post('/admin/failed/retry-all', ...write, async (req, res) => {
    const reason = parseReason(req.body);
    const outcome = await retryAllJobs(services, adminIdentity(res), reason);
    const count = outcome.queued.length + outcome.superseded.length;
    if (count === 0) setFlash(req, { kind: 'info', text: 'There were no failed jobs to retry. Nothing was changed.' });
    else {
      const parts = [`${outcome.queued.length} ${outcome.queued.length === 1 ? 'job runs' : 'jobs run'} again now`];
      if (outcome.queued.length > 0) parts[0] += ` (${outcome.queued.join(', ')})`;
      if (outcome.superseded.length > 0) parts.push(`${outcome.superseded.length} closed because the same work was already waiting (${outcome.superseded.join(', ')})`);
      if (outcome.remaining > 0) parts.push(`${outcome.remaining} more failed jobs are left: retry all again`);
      setFlash(req, { kind: 'queued', text: `${parts.join('; ')}.` });
    }
    res.redirect(303, '/admin/failed');
  });

  router.post('/admin/failed/:id/retry', ...write, async (req, res) => {
    const reason = parseReason(req.body);
    const outcome = await retryJob(services, adminIdentity(res), parseJobId(req.params.id), reason);
    const what = `job ${outcome.job.id} (${outcome.job.kindName.toLowerCase()}, ${outcome.job.subject.words})`;
    if (outcome.status === 'queued') setFlash(req, { kind: 'queued', text: `${what} runs again now.` });
    else setFlash(req, { kind: 'applied', text: `${what} was closed: job ${outcome.by} was already waiting to do the same work.` });
    res.redirect(303, '/admin/failed');
  });

  return router;
}
