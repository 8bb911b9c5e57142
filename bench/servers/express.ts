// Baseline 2, what a team writes by hand instead of the bridge: one express 5 route.
import type { AddressInfo } from 'node:net';
import express from 'express';
import { serveStats } from '../lib/measure';
import { openLookup } from './handwritten';

const lookup = openLookup(process.env.DATABASE_PATH ?? '');
const app = express();
app.get('/v1/leads/:id', (req, res) => {
  const { status, body } = lookup(req.headers.authorization, req.params.id);
  res.status(status).json(body);
});
const server = app.listen(0, '127.0.0.1', () => serveStats(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
server.keepAliveTimeout = 60_000;
process.on('SIGTERM', () => server.close(() => process.exit(0)));
