/** The admin panel: sign-in, then every page behind the layers of requireStaff (and requireAdminWrite for changes). */
import { Router } from 'express';
import type { Services } from '../services.js';
import { actionRoutes } from './action-routes.js';
import { auditRoutes } from './audit-routes.js';
import { logoutRoute, requireAdminWrite, requireStaff, signInRoutes } from './auth.js';
import { dashboardRoutes } from './dashboard-routes.js';
import { failedRoutes } from './failed-routes.js';
import { memberRoutes } from './member-routes.js';

export function adminRoutes(services: Services): Router {
  const router = Router();
  router.use(signInRoutes(services));
  router.use('/admin', requireStaff(services));
  router.post('/admin/logout', ...logoutRoute(services));
  router.use(dashboardRoutes(services));
  router.use(memberRoutes(services));
  // One write guard for every change, so that the write rate counts all of an admin's changes together.
  const write = requireAdminWrite();
  router.use(failedRoutes(services, write));
  router.use(actionRoutes(services, write));
  router.use(auditRoutes(services));
  return router;
}
