// /docs: the interactive reference (Swagger UI from the swagger-ui-dist package, nothing from a CDN)
// over /v1/openapi.json, with a strict Content-Security-Policy: scripts and styles only from this
// origin, try-it requests only to this origin, no inline script.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { AnyRouter } from '@trpc/server';
import type { AppConfig } from '../deps';
import { buildOpenApiDocument } from './openapi';

const SWAGGER_DIR = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

// Swagger UI sets style attributes from React, so styles need 'unsafe-inline'; scripts never do.
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ormiar API reference</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="stylesheet" href="/docs/assets/docs.css">
<link rel="icon" href="/docs/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"><noscript>The reference needs JavaScript; the document itself is <a href="/v1/openapi.json">/v1/openapi.json</a>.</noscript></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/docs.js"></script>
</body>
</html>
`;

// Swagger UI's set-up, plus a small plugin that shows each operation's x-codeSamples (curl,
// JavaScript, Python) above its responses: Swagger UI renders only its own curl line.
const INIT = `'use strict';
(function () {
  function CodeSamples(system) {
    var h = system.React.createElement;
    return {
      wrapComponents: {
        responses: function (Original) {
          return function (props) {
            // The operation passes its own path plus "responses".
            var path = props.specPath && props.specPath.toJS ? props.specPath.toJS() : [];
            if (path[path.length - 1] === 'responses') path = path.slice(0, -1);
            var samples = system.specSelectors.specJson().getIn(path.concat(['x-codeSamples']));
            var original = h(Original, props);
            if (!samples || !samples.size) return original;
            var list = samples.toJS();
            return h('div', null,
              h('div', { className: 'code-samples opblock-section-header' }, h('h4', { className: 'opblock-title' }, 'Code samples')),
              h('div', { className: 'code-samples-body' }, list.map(function (s) {
                return h('div', { className: 'code-sample', key: s.lang },
                  h('h5', null, s.label || s.lang),
                  h('pre', { className: 'microlight' }, h('code', null, s.source)));
              })),
              original);
          };
        },
      },
    };
  }
  window.ui = SwaggerUIBundle({
    url: '/v1/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    persistAuthorization: false,
    tryItOutEnabled: false,
    displayRequestDuration: true,
    defaultModelsExpandDepth: 0,
    docExpansion: 'list',
    filter: false,
    presets: [SwaggerUIBundle.presets.apis],
    plugins: [CodeSamples],
    layout: 'BaseLayout',
  });
})();
`;

const CSS = `body { margin: 0; background: #fff; }
.swagger-ui .info .renderedMarkdown h2 { border-top: 1px solid #e5e5e5; padding-top: 1em; margin-top: 1.5em; }
.swagger-ui .info .renderedMarkdown pre { white-space: pre-wrap; }
.code-samples-body { padding: 0 20px 10px; }
.code-sample h5 { margin: 10px 0 4px; font-family: sans-serif; }
.code-sample pre { background: #333; color: #fff; padding: 10px; border-radius: 4px; overflow-x: auto; font-size: 12px; }
`;

interface Asset {
  type: string;
  body: Buffer;
  /** Compressed once, on first request (the bundle shrinks about 4×). */
  gzipped?: Buffer;
}

const compressible = (type: string) => /^(text\/|application\/json)/.test(type);

function send(req: IncomingMessage, res: ServerResponse, asset: Asset): void {
  let body = asset.body;
  if (compressible(asset.type)) {
    res.setHeader('Vary', 'Accept-Encoding');
    if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
      body = asset.gzipped ??= gzipSync(asset.body);
      res.setHeader('Content-Encoding', 'gzip');
    }
  }
  res.setHeader('Content-Length', body.length);
  res.end(req.method === 'HEAD' ? undefined : body);
}

function vendor(file: string, type: string): Asset {
  return { type, body: readFileSync(join(SWAGGER_DIR, file)) };
}

/**
 * Serves GET /v1/openapi.json, /docs and its assets; returns false for anything else (the app's 404).
 * The document is built on first use: its server is PUBLIC_BASE_URL or the address the server is
 * bound to, known only after listen.
 */
export function createDocsHandler(opts: { router: AnyRouter; version: string; config: AppConfig; trpcProcedures: () => string }): (req: IncomingMessage, res: ServerResponse) => boolean {
  let openapi: Asset | undefined;
  const document = (): Asset =>
    (openapi ??= {
      type: 'application/json; charset=utf-8',
      body: Buffer.from(
        JSON.stringify(
          buildOpenApiDocument(opts.router, {
            version: opts.version,
            serverUrl: opts.config.publicBaseUrl ?? '',
            rateLimitPerMinute: opts.config.rateLimitPerMinute,
            trpcProcedures: opts.trpcProcedures(),
          }),
        ),
      ),
    });
  const page: Asset = { type: 'text/html; charset=utf-8', body: Buffer.from(PAGE) };
  // Read once, at start-up: the files do not change while the server runs.
  const assets: Record<string, Asset> = {
    'swagger-ui.css': vendor('swagger-ui.css', 'text/css; charset=utf-8'),
    'swagger-ui-bundle.js': vendor('swagger-ui-bundle.js', 'text/javascript; charset=utf-8'),
    'favicon-32x32.png': vendor('favicon-32x32.png', 'image/png'),
    'docs.js': { type: 'text/javascript; charset=utf-8', body: Buffer.from(INIT) },
    'docs.css': { type: 'text/css; charset=utf-8', body: Buffer.from(CSS) },
  };
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/v1/openapi.json') {
      const doc = document();
      res.statusCode = 200;
      res.setHeader('Content-Type', doc.type);
      send(req, res, doc);
      return true;
    }
    const asset = path === '/docs' || path === '/docs/' ? page : path.startsWith('/docs/assets/') ? assets[path.slice('/docs/assets/'.length)] : undefined;
    if (!asset) return false;
    res.statusCode = 200;
    res.setHeader('Content-Type', asset.type);
    res.setHeader('Content-Security-Policy', DOCS_CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cache-Control', asset === page ? 'no-cache' : 'public, max-age=3600');
    send(req, res, asset);
    return true;
  };
}
