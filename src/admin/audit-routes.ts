import { Router } from 'express';
import { ArbiterError } from '../errors.js';
import type { Services } from '../services.js';
import { auditPage } from '../views/admin/audit.js';
import { csvFilename, parseAuditQuery, readAuditPage, writeAuditCsv } from './audit-query.js';
import { panelContext } from './context.js';

/** /admin/audit: the log as a page of filters and entries, or with ?format=csv every matching entry as a download. */
export function auditRoutes(services: Services): Router {
  const router = Router();
  const roleName = services.discord?.bot.roleName;

  router.get('/admin/audit', async (req, res) => {
    const request = parseAuditQuery(req.query);
    if (!request.ok) {
      if (req.query.format === 'csv' || !req.accepts('html')) throw new ArbiterError('bad_request', request.message, { status: 400 });
      res.status(400).type('html').send(auditPage(panelContext(req, res), { values: request.values, error: request.message }));
      return;
    }
    if (request.format === 'html') {
      const { rows, older } = readAuditPage(services, request.filter, request.before);
      res.type('html').send(auditPage(panelContext(req, res), { values: request.values, rows, before: request.before, older, roleName }));
      return;
    }

    res.status(200);
    res.set('content-type', 'text/csv; charset=utf-8');
    res.set('content-disposition', `attachment; filename="${csvFilename(services.clock.now())}"`);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    let outcome;
    try {
      outcome = await writeAuditCsv({ db: services.db, roleName }, request.filter, res, gone.signal);
    } catch (err) {
      if (!res.headersSent) throw err;
      // The header promised a whole file: cut the connection so the client sees the download fail.
      services.log.error({ err }, 'audit export failed');
      res.destroy();
      return;
    }
    if (outcome.complete) res.end();
    else services.log.info({ rows: outcome.rows }, 'audit export stopped: the client went away');
  });

  return router;
}
