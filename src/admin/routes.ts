/** The admin panel: sign-in, then every page behind the layers of requireStaff (and requireAdminWrite for changes). */
import { Router } from 'express';
import type { Services } from '../services.js';
import { auditRoutes } from './audit-routes.js';
import { logoutRoute, requireStaff, signInRoutes } from './auth.js';
import { dashboardRoutes } from './dashboard-routes.js';

export function adminRoutes(services: Services): Router {
  const router = Router();
  router.use(signInRoutes(services));
  router.use('/admin', requireStaff(services));
  router.post('/admin/logout', ...logoutRoute(services));
  router.use(dashboardRoutes(services));
  router.use(auditRoutes(services));
  return router;
}
