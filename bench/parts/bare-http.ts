/** Baseline: a bare node:http route on the webhook's path that reads and parses the JSON body, answering as Arbiter does. */
import { createServer } from 'node:http';

const ACCEPTED = JSON.stringify({ status: 'accepted' });

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/webhook/billing') {
    res.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    let status = 200;
    try {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      status = 400;
    }
    const body = status === 200 ? ACCEPTED : '{"error":"malformed"}';
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
