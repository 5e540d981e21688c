/**
 * A small template renderer for views/. `{{name}}` is replaced with the value, HTML-escaped in .html templates;
 * `{{{name}}}` inserts a value that is already safe HTML (only ever markup we built with escapeHtml). A missing
 * variable is an error, not an empty string, so a typo cannot ship silently.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** views/ at the project root; this file sits one level down in src/ or dist/. */
export const VIEWS_DIR = fileURLToPath(new URL('../views/', import.meta.url));

const cache = new Map<string, string>();

export function escapeHtml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** Wraps markup we built ourselves so that it can go into a `{{{slot}}}`. */
export class SafeHtml {
  constructor(readonly html: string) {}
}

export function html(strings: TemplateStringsArray, ...values: (string | number | SafeHtml | SafeHtml[])[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((value, i) => {
    const part = Array.isArray(value)
      ? value.map((v) => v.html).join('')
      : value instanceof SafeHtml
        ? value.html
        : escapeHtml(String(value));
    out += part + strings[i + 1]!;
  });
  return new SafeHtml(out);
}

export type Vars = Record<string, string | number | SafeHtml>;

export function render(name: string, vars: Vars): string {
  let template = cache.get(name);
  if (template === undefined) {
    template = readFileSync(join(VIEWS_DIR, name), 'utf8');
    cache.set(name, template);
  }
  const escape = name.endsWith('.html');
  return template.replace(/\{\{(\{)?\s*([a-zA-Z0-9_]+)\s*\}?\}\}/g, (_match, raw: string | undefined, key: string) => {
    if (!(key in vars)) throw new Error(`template ${name} needs {{${key}}}`);
    const value = vars[key]!;
    if (value instanceof SafeHtml) return value.html;
    if (raw) throw new Error(`template ${name}: {{{${key}}}} must be given SafeHtml`);
    return escape ? escapeHtml(String(value)) : String(value);
  });
}

/** A whole page: the content template inside views/pages/layout.html. */
export function renderPage(name: string, title: string, vars: Vars = {}): string {
  const content = new SafeHtml(render(`pages/${name}.html`, vars));
  return render('pages/layout.html', { title, content });
}
