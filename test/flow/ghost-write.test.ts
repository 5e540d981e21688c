import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGhostClient } from '../../src/ghost/client.js';
import { until } from '../support/server.js';
import { Browser, startWorld } from '../support/world.js';

/** Passes requests on to Ghost; after the first members search has been answered by Ghost, runs `afterSearch` before Arbiter gets the answer. */
async function ghostProxy(afterSearch: () => Promise<void>) {
  const proxy = { target: '', url: '', close: () => Promise.resolve() };
  let searched = false;
  const read = (req: IncomingMessage) =>
    new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks)));
    });
  const server = createServer((req, res) => {
    void (async () => {
      const body = await read(req);
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== 'host' && k !== 'content-length')) as Record<string, string>;
      const answer = await fetch(`${proxy.target}${req.url}`, { method: req.method, headers, body: body.length ? new Uint8Array(body) : undefined });
      const text = await answer.text();
      if (!searched && req.method === 'GET' && /\/members\/?\?.*filter=/.test(req.url ?? '')) {
        searched = true;
        await afterSearch();
      }
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
      res.end(text);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return proxy;
}

test('the Ghost note is written from a copy read right before the edit: a change made meanwhile is kept', async (t) => {
  let staffEdit = async () => {};
  const proxy = await ghostProxy(() => staffEdit());
  const w = await startWorld({ env: { CMS_URL: proxy.url } });
  t.after(async () => {
    await w.stop();
    await proxy.close();
  });
  proxy.target = w.ghost.url;
  const member = w.ghost.addMember({ email: 'fresh@example.com', note: 'VIP since 2020', labels: ['newsletter'] });
  // Someone in Ghost's admin edits the member between Arbiter's search and its write.
  const staff = createGhostClient({ url: w.ghost.url, adminKey: w.ghost.adminKey, field: 'note' });
  staffEdit = async () => {
    await staff.editMember(member.id, { note: 'VIP since 2020\nprefers DMs', labels: ['newsletter', 'vip'] });
  };

  const user = { id: '910000000000000001', username: 'fresh' };
  w.discord.addUser(user);
  await w.event({ subscription_id: 'sub_fresh', customer_email: 'fresh@example.com' });
  w.discord.signIn(user.id);
  assert.equal((await new Browser().follow(await w.linkFor('fresh@example.com'))).res.status, 200);

  await until(() => w.ghost.member('fresh@example.com')?.note?.includes('discord_id:'), 10_000, 'Ghost note');
  const saved = w.ghost.member('fresh@example.com')!;
  assert.equal(saved.note, `VIP since 2020\nprefers DMs\n\ndiscord_id: ${user.id}`);
  assert.deepEqual(saved.labels.map((l) => l.name).sort(), ['discord', 'newsletter', 'vip']);
  // The edit follows a read of that member by id.
  const calls = w.ghost.requests.filter((r) => !(r.method === 'PUT' && r.body.includes('prefers DMs') && !r.body.includes('discord_id')));
  const edit = calls.findIndex((r) => r.method === 'PUT');
  assert.equal(calls[edit - 1]?.method, 'GET');
  assert.match(calls[edit - 1]!.path, new RegExp(`/members/${member.id}/?$`));
});
