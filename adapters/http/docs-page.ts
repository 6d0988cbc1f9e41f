/**
 * `GET /docs`: the API reference page. With the optional peer dependency `swagger-ui-dist`
 * installed it is Swagger UI (schemas, examples, try-it) over `/openapi.json`, every asset
 * served by this router from the installed package (no CDN: it works offline), with no inline
 * script (it runs under helmet's default Content-Security-Policy, `script-src 'self'`).
 * Without the package `/docs` is a plain server-rendered list of the operations that says
 * which package to install.
 *
 * Every URL on the page is built from the router's mount path (`req.baseUrl`), so the page
 * works with the router mounted under a prefix.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Request, Router } from 'express';

type JsonObject = Record<string, unknown>;

/** The package whose assets the page serves. */
export const SWAGGER_UI_PACKAGE = 'swagger-ui-dist';

/** The only files of the package the router serves, with their media types. */
const ASSETS: Readonly<Record<string, string>> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
};

/** Starts Swagger UI on the page's `#swagger-ui` element, with the document URL the page names. */
const INIT_SCRIPT = `// Starts Swagger UI over the document named by #swagger-ui's data-spec (served by the lifecycle router).
window.addEventListener('DOMContentLoaded', function () {
  var root = document.getElementById('swagger-ui');
  window.ui = SwaggerUIBundle({
    url: root.dataset.spec,
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    tryItOutEnabled: true,
    displayRequestDuration: true,
    defaultModelsExpandDepth: 0,
    docExpansion: 'list',
  });
});
`;

/** Where the installed swagger-ui-dist lives, or null when it is not installed. */
export function swaggerUiDir(): string | null {
  try {
    const dir = dirname(createRequire(import.meta.url).resolve(`${SWAGGER_UI_PACKAGE}/package.json`));
    return Object.keys(ASSETS).every((file) => existsSync(join(dir, file))) ? dir : null;
  } catch {
    return null;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char);

/** The Swagger UI page; `base` is the router's mount path ('' at the root). */
export function referencePage(base: string): string {
  const at = (path: string): string => escapeHtml(`${base}${path}`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Essay lifecycle API reference</title>
<link rel="stylesheet" href="${at('/docs/assets/swagger-ui.css')}">
<script src="${at('/docs/assets/swagger-ui-bundle.js')}" defer></script>
<script src="${at('/docs/init.js')}" defer></script>
</head><body>
<div id="swagger-ui" data-spec="${at('/openapi.json')}"><p style="font:14px system-ui,sans-serif;margin:2rem">Loading the API reference from <a href="${at('/openapi.json')}">${at('/openapi.json')}</a>…</p></div>
</body></html>`;
}

/** The page without swagger-ui-dist: every operation of the document, no scripts, and what to install. */
export function plainDocsPage(document: JsonObject, base: string): string {
  const rows = Object.entries(document.paths as Record<string, Record<string, { summary: string; security: unknown[] }>>)
    .flatMap(([path, methods]) =>
      Object.entries(methods).map(
        ([method, op]) =>
          `<tr><td class="m">${escapeHtml(method.toUpperCase())}</td><td><code>${escapeHtml(path)}</code></td><td>${escapeHtml(op.summary)}</td><td>${op.security.length > 0 ? 'bearer' : 'public'}</td></tr>`,
      ),
    )
    .join('\n');
  const schemas = Object.keys((document.components as { schemas: JsonObject }).schemas).sort();
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Essay lifecycle API</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left}.m{font-weight:bold}code{font-size:13px}.note{background:#fff8e1;border:1px solid #f0d98a;padding:.5rem .8rem}</style>
</head><body>
<h1>Essay lifecycle API</h1>
<p class="note">The interactive reference (schemas, examples, try-it) needs the package <code>${SWAGGER_UI_PACKAGE}</code>, which is not installed: <code>npm install ${SWAGGER_UI_PACKAGE}</code>, then restart the server.</p>
<p>The machine-readable document is <a href="${escapeHtml(`${base}/openapi.json`)}">${escapeHtml(`${base}/openapi.json`)}</a> (OpenAPI ${escapeHtml(String(document.openapi))}). Errors are <code>{ code, message, details }</code>.</p>
<table><thead><tr><th>Method</th><th>Path</th><th>What it does</th><th>Auth</th></tr></thead><tbody>
${rows}
</tbody></table>
<h2>Schemas</h2><p>${schemas.map((name) => `<code>${escapeHtml(name)}</code>`).join(', ')}</p>
</body></html>`;
}

/** The router's mount path as the page's URLs need it. */
const baseOf = (req: Request): string => req.baseUrl.replace(/\/$/, '');

/** The routes that serve the page's own script and assets: not API operations, so not in the OpenAPI document. */
export const DOCS_ASSET_ROUTES = ['/docs/init.js', '/docs/assets/:file'] as const;

/** Asset bytes by absolute path, read on first request (about 2 MB) and kept for the process. */
const assetCache = new Map<string, Buffer>();

function assetBody(dir: string, file: string): Buffer {
  const path = join(dir, file);
  let body = assetCache.get(path);
  if (body === undefined) {
    body = readFileSync(path);
    assetCache.set(path, body);
  }
  return body;
}

/**
 * Adds `GET /docs` (and, with swagger-ui-dist, {@link DOCS_ASSET_ROUTES}) to `router`.
 * `document` builds the OpenAPI document (the caller builds it once, on first use).
 * `uiDir` is where swagger-ui-dist is (default: resolved from this package; null: not installed).
 */
export function docsPageRoutes(router: Router, document: () => JsonObject, uiDir: string | null = swaggerUiDir()): void {
  router.get('/docs', (req, res) => {
    const page = uiDir === null ? plainDocsPage(document(), baseOf(req)) : referencePage(baseOf(req));
    res.status(200).type('text/html; charset=utf-8').send(page);
  });
  if (uiDir === null) return;
  const [initRoute, assetRoute] = DOCS_ASSET_ROUTES;
  router.get(initRoute, (_req, res) => {
    res.status(200).type('text/javascript; charset=utf-8').set('Cache-Control', 'no-cache').send(INIT_SCRIPT);
  });
  router.get(assetRoute, (req, res, next) => {
    const file = req.params.file;
    const type = file === undefined ? undefined : ASSETS[file];
    if (file === undefined || type === undefined) return next();
    res.status(200).type(type).set('Cache-Control', 'public, max-age=86400').send(assetBody(uiDir, file));
  });
}
