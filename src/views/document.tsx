/**
 * Pages and emails are typed components rendered on the server: every value is escaped unless it is markup built
 * by a component, and tsc checks each page's props. Pages carry no inline script or style (the CSP forbids both).
 */
import type { ComponentChildren, VNode } from 'preact';
import { renderToString } from 'preact-render-to-string';
import { fileURLToPath } from 'node:url';

/** public/ at the project root (style sheet); this file sits two levels down in src/views or dist/views. */
export const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url));

export function renderDocument(node: VNode): string {
  return `<!doctype html>${renderToString(node)}`;
}

export function Page(props: { title: string; children: ComponentChildren; nav?: ComponentChildren; wide?: boolean }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>{`${props.title} · Arbiter`}</title>
        <link rel="stylesheet" href="/static/style.css" />
      </head>
      <body>
        {props.nav}
        <main id="main" class={props.wide ? 'wide' : undefined}>
          <h1>{props.title}</h1>
          {props.children}
        </main>
      </body>
    </html>
  );
}

/** A one-message page: errors, refusals, notices. */
export function messagePage(title: string, message: string, extra?: ComponentChildren): string {
  return renderDocument(
    <Page title={title}>
      <p>{message}</p>
      {extra}
    </Page>,
  );
}
