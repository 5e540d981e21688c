/** Baseline: a bare Express 5 JSON route on the webhook's path, answering as Arbiter does when it accepts. */
import express from 'express';

const app = express();
app.post('/webhook/billing', express.json(), (req, res) => {
  res.json({ status: typeof req.body === 'object' && req.body !== null ? 'accepted' : 'invalid' });
});
const server = app.listen(Number(process.env.PORT), '127.0.0.1');
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
