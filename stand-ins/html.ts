/** Small server-rendered pages for the inbox and the demo: escaping, a layout with Arbiter's style sheet, headers. */
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';

const STYLE_SHEET = readFileSync(new URL('../public/style.css', import.meta.url));

/** No scripts, nothing from elsewhere; frames only from the same server (the inbox's HTML parts). */
const PAGE_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** `body` is HTML whose every outside value is already escaped. */
export function htmlPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><link rel="stylesheet" href="/style.css"></head>
<body><main class="wide">${body}</main></body></html>
`;
}

export function sendPage(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': PAGE_CSP,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
  });
  res.end(html);
}

export function sendStyleSheet(res: ServerResponse): void {
  res.writeHead(200, { 'Content-Type': 'text/css; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end(STYLE_SHEET);
}

/** Browsers ask for it on every page; nothing, rather than a 404 in their console. */
export function sendNoFavicon(res: ServerResponse): void {
  res.writeHead(204, { 'Cache-Control': 'max-age=86400' });
  res.end();
}

export function sendText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', ...headers });
  res.end(text);
}
