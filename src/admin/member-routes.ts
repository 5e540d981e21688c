import { Router } from 'express';
import { z } from 'zod';
import { ArbiterError } from '../errors.js';
import type { Services } from '../services.js';
import { memberPage, searchPage, subscriptionPage } from '../views/admin/members.js';
import { panelContext } from './context.js';
import { DiscordId, parseInput, SubscriptionId } from './input.js';
import { memberView, subscriptionView } from './member.js';
import { SEARCH_LIMIT, searchMembers } from './search.js';

const Query = z.object({ q: z.string().max(200, 'the search is longer than 200 characters').optional() });

export function memberRoutes(services: Services): Router {
  const router = Router();
  const roleName = (id: string) => services.discord?.bot.roleName(id) ?? id;

  router.get('/admin/members', (req, res) => {
    const { q } = parseInput(Query, req.query);
    const hits = q === undefined ? null : searchMembers(services, q);
    res.type('html').send(searchPage(panelContext(req, res), q ?? '', hits, SEARCH_LIMIT));
  });

  router.get('/admin/members/:discordId', async (req, res) => {
    const discordId = parseInput(DiscordId, req.params.discordId);
    const view = await memberView(services, discordId);
    if (!view) throw new ArbiterError('not_found', `Arbiter knows nothing of the Discord account ${discordId}: no subscription, grant or history.`, { status: 404 });
    res.type('html').send(memberPage(panelContext(req, res), view, roleName));
  });

  router.get('/admin/subscriptions/:id', async (req, res) => {
    const id = parseInput(SubscriptionId, req.params.id);
    const view = await subscriptionView(services, id);
    if (!view) throw new ArbiterError('not_found', `There is no subscription ${id}.`, { status: 404 });
    res.type('html').send(subscriptionPage(panelContext(req, res), view, roleName));
  });
  return router;
}
