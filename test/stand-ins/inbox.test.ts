import assert from 'node:assert/strict';
import { test } from 'node:test';
import nodemailer from 'nodemailer';
import { startInbox } from '../../stand-ins/inbox.js';
import { startSmtp } from '../../stand-ins/smtp.js';

test('the inbox lists received mail newest first and shows each part escaped or sandboxed', async (t) => {
  const smtp = await startSmtp();
  t.after(() => smtp.close());
  const inbox = await startInbox(smtp.messages);
  t.after(() => inbox.close());
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: smtp.port, secure: false, ignoreTLS: true });
  t.after(() => transport.close());

  const empty = await fetch(`${inbox.url}/`);
  assert.match(await empty.text(), /No mail yet/);

  await transport.sendMail({ from: 'a@example.test', to: 'first@example.com', subject: 'First', text: 'one' });
  await transport.sendMail({
    from: 'a@example.test',
    to: 'second@example.com',
    subject: 'Second <b>bold</b>',
    text: 'Open https://example.com/link/abc?x=1&y=<2>. Then "done".',
    html: '<!doctype html><html lang="en"><body><p>Hi</p><script>alert(1)</script><a href="https://example.com/link/abc">Go</a></body></html>',
  });
  await smtp.waitFor(2);

  const list = await fetch(`${inbox.url}/`);
  assert.equal(list.status, 200);
  const csp = list.headers.get('content-security-policy') ?? '';
  assert.match(csp, /default-src 'none'/);
  assert.doesNotMatch(csp, /script-src/);
  const html = await list.text();
  assert.ok(html.indexOf('second@example.com') < html.indexOf('first@example.com'), 'newest first');
  assert.match(html, /<a href="\/messages\/2">Second &#60;b&#62;bold&#60;\/b&#62;<\/a>/);
  assert.match(html, /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);

  const message = await (await fetch(`${inbox.url}/messages/2`)).text();
  assert.match(message, /<iframe src="\/messages\/2\/html" sandbox="allow-top-navigation-by-user-activation"/);
  assert.match(message, /<a href="https:\/\/example\.com\/link\/abc\?x=1&#38;y=">https:\/\/example\.com\/link\/abc\?x=1&#38;y=<\/a>&#60;2&#62;\. Then &#34;done&#34;\./);
  assert.doesNotMatch(message, /<script|<b>/);

  const part = await fetch(`${inbox.url}/messages/2/html`);
  const partCsp = part.headers.get('content-security-policy') ?? '';
  assert.match(partCsp, /default-src 'none'/);
  assert.match(partCsp, /sandbox allow-top-navigation-by-user-activation/);
  assert.doesNotMatch(partCsp, /script-src|allow-scripts|allow-same-origin/);
  assert.match(await part.text(), /^<!doctype html><html lang="en"><base target="_top"><body>/);

  const plain = await (await fetch(`${inbox.url}/messages/1`)).text();
  assert.match(plain, /no HTML part/);
  for (const path of ['/messages/3', '/messages/0', '/messages/1/html/x', '/nope']) {
    assert.equal((await fetch(`${inbox.url}${path}`)).status, 404, path);
  }
  assert.equal((await fetch(`${inbox.url}/`, { method: 'POST' })).status, 405);
  assert.match((await fetch(`${inbox.url}/style.css`)).headers.get('content-type') ?? '', /text\/css/);
});
