// Baseline 1, the floor: node:http + better-sqlite3, no framework.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveStats } from '../lib/measure';
import { openLookup } from './handwritten';

const lookup = openLookup(process.env.DATABASE_PATH ?? '');
const server = http.createServer((req, res) => {
  const m = /^\/v1\/leads\/([^/?]+)$/.exec(req.url ?? '');
  const { status, body } = m?.[1] ? lookup(req.headers.authorization, m[1]) : { status: 404, body: {} };
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
  res.end(json);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => serveStats(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
