import express, { Router } from 'express';
import { rateLimit } from 'express-rate-limit';
import { z } from 'zod';
import { ArbiterError } from '../errors.js';
import { csrfToken, requireCsrf } from '../http/csrf.js';
import type { Services } from '../services.js';
import { renderPage } from '../views.js';
import { LINK_EMAIL_JOB, formatExpiry } from './link-email.js';
import type { TokenStatus } from './tokens.js';

const PROBLEM_PAGES: Record<Exclude<TokenStatus, 'valid'>, { title: string; message: string }> = {
  expired: { title: 'This link has expired', message: 'Links work for a limited time. Ask for a new one below.' },
  used: { title: 'This link was already used', message: 'Each link works once. If your Discord account is not connected yet, ask for a new link below.' },
  revoked: { title: 'This link was replaced', message: 'A newer link was sent to you; only the newest one works. Use it, or ask for a new one below.' },
  unknown: { title: 'This link is not valid', message: 'Check that you copied the whole address from the email, or ask for a new link below.' },
};

const EmailForm = z.object({ email: z.email().max(254), _csrf: z.string() });

export function linkProblemPage(status: Exclude<TokenStatus, 'valid'>): string {
  const page = PROBLEM_PAGES[status];
  return renderPage('link-problem', page.title, { message: page.message });
}

export function linkRoutes(services: Services, limiter = defaultLimiter()): Router {
  const { tokens, subscriptions, jobs, audit, commits } = services;
  const router = Router();

  router.get('/link/new', limiter, (req, res) => {
    res.type('html').send(renderPage('link-new', 'Ask for a new link', { csrf: csrfToken(req) }));
  });

  router.post('/link/new', limiter, express.urlencoded({ extended: false, limit: '4kb' }), requireCsrf, async (req, res) => {
    const form = EmailForm.safeParse(req.body);
    if (!form.success) {
      throw new ArbiterError('bad_request', 'Please enter the email address your subscription uses.', { status: 400 });
    }
    const email = form.data.email.toLowerCase();
    // The answer is the same whether or not the address is known, so the form tells nobody who subscribes.
    await commits.run(() => {
      const active = subscriptions.byEmail(email).filter((s) => s.status === 'active');
      for (const s of active) jobs.enqueue(LINK_EMAIL_JOB, s.subscription_id, { subscriptionId: s.subscription_id });
      audit.record({ actor: 'subscriber', action: 'link.requested', email, details: { subscriptions: active.length } });
    });
    res.type('html').send(renderPage('link-requested', 'Check your email', { email }));
  });

  router.get('/link/:token', limiter, (req, res) => {
    const result = tokens.check(String(req.params.token));
    if (result.status !== 'valid') {
      res.status(result.status === 'unknown' ? 404 : 410).type('html').send(linkProblemPage(result.status));
      return;
    }
    const subscription = subscriptions.get(result.row!.subscription_id)!;
    res.type('html').send(
      renderPage('link-valid', 'Your link is valid', {
        tier: subscription.tier,
        expires: formatExpiry(new Date(result.row!.expires_at)),
      }),
    );
  });

  return router;
}

function defaultLimiter() {
  return rateLimit({ windowMs: 60_000, limit: 30, standardHeaders: 'draft-8', legacyHeaders: false });
}
