/** The panel's addresses for one member and one subscription, for pages and the redirects after a change. */
export const memberPath = (discordId: string): string => `/admin/members/${encodeURIComponent(discordId)}`;
export const subscriptionPath = (subscriptionId: string): string => `/admin/subscriptions/${encodeURIComponent(subscriptionId)}`;
