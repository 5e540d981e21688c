import connectSqlite3 from 'connect-sqlite3';
import session from 'express-session';
import type { Request, RequestHandler } from 'express';
import type { Config } from '../config.js';
import type { AdminSession, AdminSignIn, Flash } from '../admin/access.js';
import type { PendingState } from '../discord/oauth-state.js';
import type { LinkedSession } from '../linking/pages.js';

declare module 'express-session' {
  interface SessionData {
    /** The pending subscriber link: the token's hash (never the token) and the OAuth state issued for it. */
    link?: PendingState & { tokenHash: string };
    csrf?: string;
    /** Shown once on the success page after a completed link. */
    linked?: LinkedSession;
    /** A staff member signed in to the panel. */
    admin?: AdminSession;
    /** A panel sign-in on its way through Discord. */
    adminSignIn?: AdminSignIn;
    /** The outcome of the last panel action, shown once on the page it redirects to. */
    flash?: Flash;
  }
}

export interface Sessions {
  middleware: RequestHandler;
  close(): Promise<void>;
}

export const SESSION_COOKIE = 'arbiter.sid';

/** express-session with its own sessions.db; cookies HttpOnly, SameSite=Lax (the OAuth return is a cross-site GET), Secure on https. */
export function createSessions(config: Pick<Config, 'dataDir' | 'sessionSecret' | 'secureCookies'>): Sessions {
  const SQLiteStore = connectSqlite3(session);
  const store = new SQLiteStore({ db: 'sessions.db', dir: config.dataDir, createDirIfNotExists: true, concurrentDb: true });
  const middleware = session({
    name: SESSION_COOKIE,
    secret: config.sessionSecret,
    store,
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax', secure: config.secureCookies, maxAge: 2 * 3_600_000 },
  });
  return {
    middleware,
    close: () =>
      new Promise<void>((resolve) => {
        const db = (store as unknown as { db?: { close(cb: () => void): void } }).db;
        if (db) db.close(() => resolve());
        else resolve();
      }),
  };
}

export function saveSession(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));
}

/**
 * Takes a single-use value (a pending sign-in's OAuth state) out of the session and saves at once, so that it is
 * spent whatever happens next. Without one there is nothing to forget, and saving would store an empty session for
 * whoever sent the request.
 */
export async function takeFromSession<K extends keyof session.SessionData>(req: Request, key: K): Promise<session.SessionData[K] | undefined> {
  const value = req.session[key];
  if (value === undefined) return undefined;
  delete req.session[key];
  await saveSession(req);
  return value;
}

/** A new session id with none of the old session's data: at sign-in, so that an id planted before is worthless. */
export function regenerateSession(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.regenerate((err) => (err ? reject(err) : resolve())));
}

export function destroySession(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.destroy((err) => (err ? reject(err) : resolve())));
}
