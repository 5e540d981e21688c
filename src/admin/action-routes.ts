/**
 * The admins' actions as form posts: each checks the input, calls its use case, and redirects to the page that shows
 * the result with the outcome for that page to show. A refusal (bad input, unknown subject) is an error page and
 * changes nothing.
 */
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { Services } from '../services.js';
import { actingAdmin } from './access.js';
import {
  block,
  BlockInput,
  grantRole,
  GrantInput,
  MemberInput,
  reconcileNow,
  resendLink,
  RevokeInput,
  revokeGrant,
  SubscriptionInput,
  unlink,
} from './actions.js';
import { adminIdentity } from './auth.js';
import { setFlash } from './context.js';
import { parseInput } from './input.js';
import { memberPath, subscriptionPath } from './paths.js';
import type { Outcome } from './outcome.js';

type Form = Record<string, unknown>;

const form = (req: Request): Form => (req.body && typeof req.body === 'object' ? (req.body as Form) : {});

function done(req: Request, res: Response, to: string, outcome: Outcome): void {
  setFlash(req, outcome);
  res.redirect(303, to);
}

export function actionRoutes(services: Services, write: RequestHandler[]): Router {
  const router = Router();

  router.post('/admin/members/:discordId/grants', ...write, async (req, res) => {
    const f = form(req);
    const input = parseInput(GrantInput, { discordId: req.params.discordId, roleId: f.role_id, expiresAt: f.expires_at, reason: f.reason });
    done(req, res, memberPath(input.discordId), await grantRole(services, actingAdmin(adminIdentity(res)), input));
  });

  router.post('/admin/members/:discordId/blocks', ...write, async (req, res) => {
    const f = form(req);
    const input = parseInput(BlockInput, { discordId: req.params.discordId, roleId: f.role_id, expiresAt: f.expires_at, reason: f.reason });
    done(req, res, memberPath(input.discordId), await block(services, actingAdmin(adminIdentity(res)), input));
  });

  router.post('/admin/members/:discordId/grants/:grantId/revoke', ...write, async (req, res) => {
    const input = parseInput(RevokeInput, { discordId: req.params.discordId, grantId: req.params.grantId, reason: form(req).reason });
    done(req, res, memberPath(input.discordId), await revokeGrant(services, actingAdmin(adminIdentity(res)), input));
  });

  router.post('/admin/members/:discordId/reconcile', ...write, async (req, res) => {
    const input = parseInput(MemberInput, { discordId: req.params.discordId, reason: form(req).reason });
    done(req, res, memberPath(input.discordId), await reconcileNow(services, actingAdmin(adminIdentity(res)), input));
  });

  router.post('/admin/subscriptions/:id/resend-link', ...write, async (req, res) => {
    const input = parseInput(SubscriptionInput, { subscriptionId: req.params.id, reason: form(req).reason });
    done(req, res, subscriptionPath(input.subscriptionId), await resendLink(services, actingAdmin(adminIdentity(res)), input));
  });

  router.post('/admin/subscriptions/:id/unlink', ...write, async (req, res) => {
    const input = parseInput(SubscriptionInput, { subscriptionId: req.params.id, reason: form(req).reason });
    done(req, res, subscriptionPath(input.subscriptionId), await unlink(services, actingAdmin(adminIdentity(res)), input));
  });

  return router;
}
