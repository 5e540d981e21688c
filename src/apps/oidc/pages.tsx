/** The provider's pages in Arbiter's style: consent, sign-out, and errors. */
import { Page, messagePage, renderDocument } from '../../views/document.js';

const SCOPE_WORDS: Record<string, string> = {
  openid: 'know your Discord account ID',
  profile: 'see your Discord username',
  tiers: 'see your subscription: its active tiers, its status and the Discord roles it gives you',
  offline_access: 'keep this access while you are away, until you sign out or it expires',
};

export function consentPage(props: { uid: string; csrf: string; client: string; account: string; scopes: string[] }): string {
  const action = `/oidc/interaction/${encodeURIComponent(props.uid)}`;
  return renderDocument(
    <Page title={`Sign in to ${props.client}`}>
      <p>
        You are signed in with Discord as <strong>{props.account}</strong>. <strong>{props.client}</strong> asks to:
      </p>
      <ul>{props.scopes.map((scope) => <li>{SCOPE_WORDS[scope] ?? scope}</li>)}</ul>
      <form method="post" action={`${action}/confirm`}>
        <input type="hidden" name="_csrf" value={props.csrf} />
        <p><button type="submit">Allow</button></p>
      </form>
      <form method="post" action={`${action}/abort`}>
        <input type="hidden" name="_csrf" value={props.csrf} />
        <p><button type="submit" class="secondary">Cancel</button></p>
      </form>
    </Page>,
  );
}

/** oidc-provider's own form (a hidden one-time token) with our words and buttons. */
export function logoutPage(form: string, host: string): string {
  return renderDocument(
    <Page title="Sign out">
      <p>Do you want to sign out of {host}? Apps that signed you in through it are told.</p>
      <div dangerouslySetInnerHTML={{ __html: form }} />
      <p>
        <button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>{' '}
        <button type="submit" form="op.logoutForm" class="secondary">No, stay signed in</button>
      </p>
    </Page>,
  );
}

export function signedOutPage(client: string | undefined): string {
  return messagePage('You are signed out', client ? `You signed out of ${client}.` : 'You signed out.');
}

/** Words for the errors a person can meet in the browser; the error code is kept for whoever helps them. */
export function oidcErrorPage(error: string, description: string | undefined): string {
  const title = error === 'access_denied' ? 'Sign-in cancelled' : 'This sign-in could not continue';
  const text = description ? `${description.charAt(0).toUpperCase()}${description.slice(1)}.` : 'The request was not valid.';
  return messagePage(title, text, <p class="muted">Go back to the app you came from and try again. (Error: {error})</p>);
}
