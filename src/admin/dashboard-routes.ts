import { Router } from 'express';
import type { Services } from '../services.js';
import { dashboardPage } from '../views/admin/dashboard.js';
import { panelContext } from './context.js';
import { dashboard } from './dashboard.js';

export function dashboardRoutes(services: Services): Router {
  const router = Router();
  router.get('/admin', (req, res) => {
    res.type('html').send(dashboardPage(panelContext(req, res), dashboard(services), (id) => services.discord?.bot.roleName(id)));
  });
  return router;
}
