/**
 * The mail the SMTP stand-in received, read in a browser: a list, newest first, and each message with its HTML part
 * and its text part. The HTML part is served on its own URL, under a CSP that allows no script and nothing from
 * elsewhere, and shown in a sandboxed frame; everything else is escaped.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { escapeHtml, htmlPage, sendNoFavicon, sendPage, sendStyleSheet, sendText } from './html.js';
import type { Received } from './smtp.js';

export interface Inbox {
  url: string;
  close(): Promise<void>;
}

// The frame may follow a link the reader clicks, in the whole tab (the link email's button), and nothing else.
const SANDBOX = 'allow-top-navigation-by-user-activation';
const HTML_PART_CSP = `default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; base-uri 'none'; frame-ancestors 'self'; sandbox ${SANDBOX}`;

/** Reads `messages` as it grows: the SMTP stand-in's list. */
export async function startInbox(messages: readonly Received[], port = 0): Promise<Inbox> {
  const server = createServer((req, res) => {
    try {
      route(messages, req, res);
    } catch (err) {
      if (!res.headersSent) sendText(res, 500, `The inbox failed: ${String(err)}`);
      else res.end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function route(messages: readonly Received[], req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'Only GET here.\n', { Allow: 'GET, HEAD' });
  const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
  if (path === '/') return sendPage(res, 200, listPage(messages));
  if (path === '/style.css') return sendStyleSheet(res);
  if (path === '/favicon.ico') return sendNoFavicon(res);
  const match = /^\/messages\/([1-9]\d{0,8})(\/html)?$/.exec(path);
  const message = match ? messages[Number(match[1]) - 1] : undefined;
  if (!match || !message) return sendPage(res, 404, htmlPage('Not found', '<h1>No such message</h1><p><a href="/">All mail</a></p>'));
  if (match[2]) return sendHtmlPart(res, message.html);
  sendPage(res, 200, messagePage(Number(match[1]), message));
}

function when(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

function listPage(messages: readonly Received[]): string {
  const rows = messages
    .map((message, index) => ({ message, number: index + 1 }))
    .reverse()
    .map(({ message, number }) => `<tr><td data-label="To">${escapeHtml(message.to)}</td>
<td data-label="Subject"><a href="/messages/${number}">${escapeHtml(message.subject || '(no subject)')}</a></td>
<td data-label="Received">${escapeHtml(when(message.receivedAt))}</td></tr>`)
    .join('\n');
  const table = messages.length === 0 ? '<p>No mail yet. Reload to see new mail.</p>' : `<table>
<thead><tr><th>To</th><th>Subject</th><th>Received</th></tr></thead>
<tbody>${rows}</tbody></table>`;
  return htmlPage('Inbox', `<h1>Inbox</h1>
<p class="muted">Every message the SMTP stand-in received, newest first. Reload to see new mail.</p>
${table}`);
}

function messagePage(number: number, message: Received): string {
  const html = message.html
    ? `<iframe src="/messages/${number}/html" sandbox="${SANDBOX}" title="HTML part" width="100%" height="420"></iframe>`
    : '<p class="muted">This message has no HTML part.</p>';
  return htmlPage(message.subject || '(no subject)', `<p><a href="/">All mail</a></p>
<h1>${escapeHtml(message.subject || '(no subject)')}</h1>
<dl><dt>To</dt><dd>${escapeHtml(message.to)}</dd><dt>Received</dt><dd>${escapeHtml(when(message.receivedAt))}</dd></dl>
<h2>HTML part</h2>
${html}
<h2>Text part</h2>
<pre>${linkify(message.text)}</pre>`);
}

/** Escaped text whose http(s) addresses are links. */
function linkify(text: string): string {
  let out = '';
  let last = 0;
  for (const match of text.matchAll(/https?:\/\/[^\s<>"']+/g)) {
    const url = match[0].replace(/[.,;:!?)]+$/, ''); // punctuation after an address ends the sentence, not the address
    out += `${escapeHtml(text.slice(last, match.index))}<a href="${escapeHtml(url)}">${escapeHtml(url)}</a>`;
    last = match.index + url.length;
  }
  return out + escapeHtml(text.slice(last));
}

function sendHtmlPart(res: ServerResponse, html: string): void {
  res.writeHead(200, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': HTML_PART_CSP,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
  });
  res.end(opensLinksInWholeTab(html));
}

/** Links in a framed message would open inside the frame; a mail reader opens them in the tab. */
function opensLinksInWholeTab(html: string): string {
  const base = '<base target="_top">';
  const head = /<head(\s[^>]*)?>/i.exec(html) ?? /<html(\s[^>]*)?>/i.exec(html);
  if (!head) return base + html;
  const at = head.index + head[0].length;
  return html.slice(0, at) + base + html.slice(at);
}
