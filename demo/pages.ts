/**
 * The demo's own page: the Discord stand-in's server (members and their roles by name, the roles, the Ghost
 * members) and buttons that send billing events for the demo subscription, signed as Paymenter signs them, to
 * Arbiter's POST /webhook/billing.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeDiscord } from '../stand-ins/discord.js';
import type { FakeGhost } from '../stand-ins/ghost.js';
import { escapeHtml, htmlPage, sendNoFavicon, sendPage, sendStyleSheet, sendText } from '../stand-ins/html.js';
import { standardHeaders } from '../stand-ins/paymenter.js';
import { GUILD, SUBSCRIPTION, TIERS } from './cast.js';

/** The buttons: each event, and the tier it moves the subscription to (the others keep the tier it is on). */
const BUTTONS = [
  { event: 'subscription.upgraded', label: 'Upgrade to ascended', tier: 'ascended' },
  { event: 'subscription.downgraded', label: 'Downgrade to awakened', tier: 'awakened' },
  { event: 'subscription.suspended', label: 'Suspend' },
  { event: 'subscription.resumed', label: 'Resume' },
  { event: 'subscription.cancelled', label: 'Cancel the subscription' },
] as const;

interface Sent {
  at: Date;
  event: string;
  tier: string;
  /** Arbiter's status code, or 0 when it did not answer. */
  status: number;
  answer: string;
}

export interface DemoPagesOptions {
  port: number;
  discord: FakeDiscord;
  ghost: FakeGhost;
  arbiterUrl: string;
  webhookSecret: string;
  /** Resolves once Arbiter has done the work an event queued, or has taken too long to wait for. */
  settle(): Promise<void>;
}

export interface DemoPages {
  url: string;
  /** Signs and posts one event for the demo subscription; returns what Arbiter answered. */
  send(event: string, tier?: string): Promise<Sent>;
  close(): Promise<void>;
}

export async function startDemoPages(options: DemoPagesOptions): Promise<DemoPages> {
  const sent: Sent[] = [];
  let tier = SUBSCRIPTION.tier;

  const send = async (event: string, newTier = tier): Promise<Sent> => {
    const body = JSON.stringify({ event, ...SUBSCRIPTION, tier: newTier, occurred_at: new Date().toISOString() });
    const record: Sent = { at: new Date(), event, tier: newTier, status: 0, answer: '' };
    try {
      const res = await fetch(`${options.arbiterUrl}/webhook/billing`, { method: 'POST', headers: standardHeaders(options.webhookSecret, body), body });
      record.status = res.status;
      record.answer = (await res.text()).slice(0, 500);
      if (res.ok) tier = newTier;
    } catch (err) {
      record.answer = `no answer: ${err instanceof Error ? err.message : String(err)}`;
    }
    sent.push(record);
    return record;
  };

  const receive = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (path === '/style.css' && req.method === 'GET') return sendStyleSheet(res);
    if (path === '/favicon.ico' && req.method === 'GET') return sendNoFavicon(res);
    if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) return sendPage(res, 200, page(options, sent, tier));
    if (path === '/events' && req.method === 'POST') {
      // Only this page's own buttons: a page elsewhere must not post events through it.
      const site = req.headers['sec-fetch-site'];
      if (site !== undefined && site !== 'same-origin') return sendText(res, 403, 'Events are sent from the demo page only.\n');
      const form = new URLSearchParams(await readBody(req, 4096));
      const button = BUTTONS.find((b) => b.event === form.get('event'));
      if (!button) return sendText(res, 400, `Unknown event. One of: ${BUTTONS.map((b) => b.event).join(', ')}.\n`);
      const result = await send(button.event, 'tier' in button ? button.tier : tier);
      if (result.status === 200) await options.settle();
      res.writeHead(303, { Location: '/' });
      res.end();
      return;
    }
    const allowed = path === '/events' ? 'POST' : path === '/' || path === '/style.css' ? 'GET' : undefined;
    if (allowed) return sendText(res, 405, `Only ${allowed} here.\n`, { Allow: allowed });
    sendPage(res, 404, htmlPage('Not found', '<h1>Not found</h1><p><a href="/">The demo page</a></p>'));
  };

  const server = createServer((req, res) => {
    receive(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendText(res, err instanceof BodyTooLarge ? 413 : 500, `${err instanceof Error ? err.message : String(err)}\n`);
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    send,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) reject(new BodyTooLarge(`The form is larger than ${max} bytes.`));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function page({ discord, ghost }: DemoPagesOptions, sent: Sent[], tier: string): string {
  const roles = discord.guildRoles().filter((r) => r.id !== GUILD.id);
  const roleName = new Map(roles.map((r) => [r.id, r.name]));
  const position = new Map(roles.map((r) => [r.id, r.position]));
  const name = (id: string) => {
    const user = discord.user(id);
    return user ? `${user.global_name ?? user.username} (@${user.username})` : id;
  };
  const members = discord.memberIds().map((id) => {
    const held = (discord.member(id)?.roles ?? []).sort((a, b) => (position.get(b) ?? 0) - (position.get(a) ?? 0));
    return `<tr><td data-label="Member">${escapeHtml(name(id))}</td><td data-label="Discord ID">${escapeHtml(id)}</td>
<td data-label="Roles" class="roles">${escapeHtml(held.map((r) => roleName.get(r) ?? r).join(', '))}</td></tr>`;
  });
  const managedBy = (id: string, managed: boolean) => {
    if (managed) return "the bot's own role: it may give only the roles below it";
    const tiers = Object.entries(TIERS).filter(([, ids]) => ids.includes(id)).map(([t]) => t);
    return tiers.length > 0 ? `Arbiter, for the tier${tiers.length > 1 ? 's' : ''} ${tiers.join(', ')}` : 'not managed by Arbiter: never touched';
  };
  const roleRows = roles.map((r) => `<tr><td data-label="Role">${escapeHtml(r.name)}</td><td data-label="Position">${r.position}</td>
<td data-label="Given by">${escapeHtml(managedBy(r.id, r.managed))}</td></tr>`);
  const sentRows = [...sent].reverse().map((s) => `<tr><td data-label="Sent">${escapeHtml(s.at.toISOString().slice(11, 19))} UTC</td>
<td data-label="Event">${escapeHtml(s.event)}</td><td data-label="Tier">${escapeHtml(s.tier)}</td>
<td data-label="Arbiter answered"><code>${s.status === 0 ? '' : `${s.status} `}${escapeHtml(s.answer)}</code></td></tr>`);
  const ghostRows = ghost.members().map((m) => `<tr><td data-label="Email">${escapeHtml(m.email)}</td><td data-label="Name">${escapeHtml(m.name ?? '')}</td>
<td data-label="Note">${escapeHtml(m.note ?? '')}</td><td data-label="Labels">${escapeHtml(m.labels.map((l) => l.name).join(', '))}</td></tr>`);
  const buttons = BUTTONS.map((b) => `<button type="submit" name="event" value="${b.event}">${escapeHtml(b.label)}</button>`).join('\n');

  return htmlPage(`${GUILD.name}: the demo's Discord server`, `<h1>Discord server: ${escapeHtml(GUILD.name)}</h1>
<p class="muted">The Discord stand-in's server, as Arbiter's bot sees it. Reload to see the latest: Arbiter changes
roles in the background, within a second or two.</p>
<table id="members"><caption>Members</caption>
<thead><tr><th>Member</th><th>Discord ID</th><th>Roles</th></tr></thead>
<tbody>${members.join('\n')}</tbody></table>

<h2>Billing events</h2>
<p>Each button sends one event for ${escapeHtml(SUBSCRIPTION.customer_name)}'s subscription
<code>${escapeHtml(SUBSCRIPTION.subscription_id)}</code> (tier now: ${escapeHtml(tier)}), signed as Paymenter signs it, to
Arbiter's <code>POST /webhook/billing</code>.</p>
<form class="inline" method="post" action="/events">
${buttons}
</form>
<table id="sent"><caption>Events sent</caption>
<thead><tr><th>Sent</th><th>Event</th><th>Tier</th><th>Arbiter answered</th></tr></thead>
<tbody>${sentRows.join('\n')}</tbody></table>

<table id="roles"><caption>Roles, highest first</caption>
<thead><tr><th>Role</th><th>Position</th><th>Given by</th></tr></thead>
<tbody>${roleRows.join('\n')}</tbody></table>

<table id="ghost"><caption>Ghost members</caption>
<thead><tr><th>Email</th><th>Name</th><th>Note</th><th>Labels</th></tr></thead>
<tbody>${ghostRows.join('\n')}</tbody></table>`);
}
