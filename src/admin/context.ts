import type { Request, Response } from 'express';
import { csrfToken } from '../http/csrf.js';
import type { PanelContext } from '../views/admin/layout.js';
import type { Flash } from './access.js';
import { adminIdentity } from './auth.js';

/** What every panel page needs: who is signed in, the form token, and the outcome of the last action (shown once). */
export function panelContext(req: Request, res: Response): PanelContext {
  const flash = req.session.flash;
  if (flash) delete req.session.flash;
  return { admin: adminIdentity(res), csrf: csrfToken(req), flash };
}

/** An action's outcome, for the page its redirect leads to. */
export function setFlash(req: Request, flash: Flash): void {
  req.session.flash = flash;
}
