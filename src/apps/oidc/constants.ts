/** What the provider's pieces share without loading oidc-provider itself (which only the first /oidc request does). */
export const OIDC_PREFIX = '/oidc';
export const ID_TOKEN_TTL = 3600;
export const REFRESH_TOKEN_TTL = 30 * 86_400;
/** What Arbiter remembers of a person between sign-ins (their username, for preferred_username). */
export const ACCOUNT_MODEL = 'Account';
export const ACCOUNT_TTL = REFRESH_TOKEN_TTL;

export interface AccountRecord {
  username?: string;
  name?: string | null;
}

/** Where Discord sends the person back: add it to the Discord application's OAuth2 redirects. */
export function callbackUrl(config: { appUrl: string }): string {
  return `${config.appUrl}${OIDC_PREFIX}/callback`;
}
