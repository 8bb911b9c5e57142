// Serves the dashboard page built into dist/dashboard/ (scripts/build-dashboard.mjs): index.html for
// every page path (the page routes itself), content-hashed assets cached for a year, a strict CSP.
import { existsSync, readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Request, Response, Router } from 'express';
import express from 'express';

/** Scripts, styles and calls only from this origin; nothing inline, no frames, no plugins. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The built page: dist/dashboard beside this module (a bundle in dist/) or above it (src/http/). */
export const DASHBOARD_DIR = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    for (const candidate of [join(dir, 'dashboard'), join(dir, 'dist', 'dashboard')]) {
      if (existsSync(join(candidate, 'index.html'))) return candidate;
    }
    const parent = dirname(dir);
    if (parent === dir) return join(process.cwd(), 'dist', 'dashboard');
    dir = parent;
  }
})();

const PAGES = ['/dashboard', '/dashboard/', '/dashboard/login', '/dashboard/set-password', '/dashboard/integrations', '/dashboard/integrations/webhooks'];
const ASSET = /^[A-Za-z0-9_-]+-[A-Z0-9]{8}\.(js|css)$/;
const TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

function secure(res: ServerResponse) {
  res.setHeader('Content-Security-Policy', DASHBOARD_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
}

export function dashboardRouter(dir: string = DASHBOARD_DIR): Router {
  const router = express.Router();
  // Read once, when first asked for (a server started before the build still serves it after).
  let index: string | undefined;
  const assets = new Map<string, Buffer>();
  const page = (_req: Request, res: Response) => {
    secure(res);
    if (index === undefined && existsSync(join(dir, 'index.html'))) index = readFileSync(join(dir, 'index.html'), 'utf8');
    if (index === undefined) {
      res.status(503).type('text/plain').send('The dashboard is not built: run npm run build');
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(index);
  };
  router.get(PAGES, page);
  router.get('/dashboard/assets/:name', (req: Request, res: Response, next) => {
    const name = String(req.params.name);
    const match = ASSET.exec(name);
    if (!match) return next();
    let body = assets.get(name);
    if (!body) {
      const path = join(dir, 'assets', name);
      if (!existsSync(path)) return next();
      body = readFileSync(path);
      assets.set(name, body);
    }
    secure(res);
    // The name changes whenever the content does.
    res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
    res.setHeader('Content-Type', TYPES[match[1] ?? 'js'] ?? 'application/octet-stream');
    res.end(body);
  });
  return router;
}
