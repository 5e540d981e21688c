/** The panel's frame and the pieces every panel page uses: navigation, the outcome of the last action, tables. */
import type { ComponentChildren } from 'preact';
import type { AdminIdentity, Flash } from '../../admin/access.js';
import { REASON_MAX, REASON_MIN } from '../../admin/input.js';
import { Page, renderDocument } from '../document.js';

export interface PanelContext {
  admin: AdminIdentity;
  csrf: string;
  flash?: Flash | undefined;
}

const FLASH_LABEL: Record<Flash['kind'], string> = { applied: 'Done', queued: 'Queued', failed: 'Failed', info: 'Note' };

export function panelPage(ctx: PanelContext, title: string, body: ComponentChildren): string {
  const nav = (
    <header class="panel-nav">
      <a class="skip" href="#main">Skip to content</a>
      <nav aria-label="Admin panel">
        <a href="/admin">Dashboard</a>
        <a href="/admin/members">Members</a>
        <a href="/admin/audit">Audit log</a>
        <a href="/admin/failed">Failed work</a>
      </nav>
      <form method="post" action="/admin/logout" class="signed-in">
        <span>{ctx.admin.name} ({ctx.admin.role === 'admin' ? 'admin' : 'staff, read only'})</span>
        <input type="hidden" name="_csrf" value={ctx.csrf} />
        <button type="submit" class="link">Sign out</button>
      </form>
    </header>
  );
  return renderDocument(
    <Page title={title} nav={nav} wide>
      {ctx.flash && (
        <p class={`flash flash-${ctx.flash.kind}`} role="status">
          <strong>{FLASH_LABEL[ctx.flash.kind]}:</strong> {ctx.flash.text}
        </p>
      )}
      {body}
    </Page>,
  );
}

/** A table that stacks into labelled rows on a narrow screen (the labels come from the column names). */
export function Table(props: { caption?: string; columns: string[]; rows: ComponentChildren[][]; empty: string }) {
  if (props.rows.length === 0) return <p class="muted">{props.empty}</p>;
  return (
    <table>
      {props.caption && <caption>{props.caption}</caption>}
      <thead>
        <tr>{props.columns.map((c) => <th scope="col">{c}</th>)}</tr>
      </thead>
      <tbody>
        {props.rows.map((row) => (
          <tr>{row.map((cell, i) => <td data-label={props.columns[i]}>{cell}</td>)}</tr>
        ))}
      </tbody>
    </table>
  );
}

/** The hidden field every panel form carries. */
export function Csrf(props: { token: string }) {
  return <input type="hidden" name="_csrf" value={props.token} />;
}

export function When(props: { at: string | null | undefined }) {
  if (!props.at) return <span class="muted">never</span>;
  return <time dateTime={props.at}>{props.at.slice(0, 16).replace('T', ' ')} UTC</time>;
}

/** The reason every change asks for: kept in the audit log next to the admin's name. */
export function ReasonField(props: { id: string; label?: string }) {
  return (
    <p>
      <label for={props.id}>
        {props.label ?? 'Reason'} <span class="muted">({REASON_MIN} to {REASON_MAX} characters, kept in the audit log)</span>
      </label>
      <br />
      <textarea id={props.id} name="reason" required minLength={REASON_MIN} maxLength={REASON_MAX} rows={2} />
    </p>
  );
}
