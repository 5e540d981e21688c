import { messagePage } from '../document.js';

export function refusedPage(title: string, message: string): string {
  return messagePage(title, message, <p><a class="button" href="/admin/login">Sign in with Discord</a></p>);
}

export function signedOutPage(): string {
  return messagePage('You are signed out', 'Your admin session has ended on this server.', <p><a class="button" href="/admin/login">Sign in again</a></p>);
}
