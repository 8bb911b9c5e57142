// Baseline 1, the floor: node:http + better-sqlite3, no framework. With WORKERS=N it runs as N
// node:cluster workers on one port, like `npm start` does: the cluster case's ceiling on this machine.
import cluster from 'node:cluster';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveStats } from '../lib/measure';
import { openLookup } from './handwritten';

const workers = Number(process.env.WORKERS ?? 1);
if (workers > 1 && cluster.isPrimary) {
  let ready = 0;
  for (let i = 0; i < workers; i++) {
    cluster.fork().on('message', (url: string) => {
      if (++ready === workers) serveStats(url);
    });
  }
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    process.exit(0);
  });
} else {
  const lookup = openLookup(process.env.DATABASE_PATH ?? '');
  const server = http.createServer((req, res) => {
    const m = /^\/v1\/leads\/([^/?]+)$/.exec(req.url ?? '');
    const { status, body } = m?.[1] ? lookup(req.headers.authorization, m[1]) : { status: 404, body: {} };
    const json = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
    res.end(json);
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    if (cluster.isWorker) process.send?.(url);
    else serveStats(url);
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}
