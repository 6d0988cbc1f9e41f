import express, { Router } from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openAuthenticator } from '../../adapters/http/auth.js';
import { DOCS_ASSET_ROUTES, docsPageRoutes, SWAGGER_UI_PACKAGE } from '../../adapters/http/docs-page.js';
import { REQUEST_EXAMPLES } from '../../adapters/http/examples.js';
import { OPERATIONS } from '../../adapters/http/operations.js';
import { RegisterBatchBody } from '../../adapters/http/schemas.js';
import { LifecycleEvents, TOPICS } from '../../machines/contracts/events.js';
import { makeHarness } from './support.js';

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** Every (method, path) the app's routers serve, found by walking express's layers. */
function servedRoutes(app: unknown): string[] {
  const out: string[] = [];
  const walk = (stack: readonly Layer[]) => {
    for (const layer of stack) {
      if (layer.route !== undefined) {
        for (const method of Object.keys(layer.route.methods)) out.push(`${method} ${layer.route.path}`);
      } else if (layer.handle?.stack !== undefined) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as { router: { stack: Layer[] } }).router.stack);
  return out;
}

function refsIn(value: unknown, found: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) for (const item of value) refsIn(item, found);
  else if (typeof value === 'object' && value !== null) {
    for (const [key, inner] of Object.entries(value)) {
      if (key === '$ref' && typeof inner === 'string') found.add(inner);
      else refsIn(inner, found);
    }
  }
  return found;
}

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1.0 document with an operation for every route the app serves', async () => {
    const h = makeHarness();
    const res = await request(h.app).get('/openapi.json');
    expect(res.status).toBe(200);
    const doc = res.body as { openapi: string; paths: Record<string, Record<string, { operationId: string }>> };
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method} ${path.replace(/\{([a-z_]+)\}/g, ':$1')}`));
    const assets = new Set<string>(DOCS_ASSET_ROUTES.map((path) => `get ${path}`));
    expect(new Set(documented)).toEqual(new Set(servedRoutes(h.app).filter((route) => !assets.has(route))));
    expect(documented).toHaveLength(OPERATIONS.length);
    const ids = Object.values(doc.paths).flatMap((methods) => Object.values(methods).map((op) => op.operationId));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('has a component schema for every event topic, pinned to its event_type', async () => {
    const h = makeHarness();
    const doc = (await request(h.app).get('/openapi.json')).body as { components: { schemas: Record<string, { properties?: { event_type?: { enum?: string[]; const?: string } } }> } };
    const topics = Object.values(doc.components.schemas).map((schema) => schema.properties?.event_type?.enum?.[0] ?? schema.properties?.event_type?.const);
    for (const topic of TOPICS) expect(topics, topic).toContain(topic);
    for (const name of Object.keys(LifecycleEvents)) expect(doc.components.schemas).toHaveProperty(name);
  });

  it('generates its schemas from the zod schemas and every $ref resolves to a component', async () => {
    const h = makeHarness();
    const doc = (await request(h.app).get('/openapi.json')).body as { components: { schemas: Record<string, unknown> } };
    const { $schema: _dialect, ...generated } = z.toJSONSchema(RegisterBatchBody, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    expect(doc.components.schemas.RegisterBatchBody).toEqual(generated);
    for (const ref of refsIn(doc)) {
      expect(ref.startsWith('#/components/schemas/'), ref).toBe(true);
      expect(doc.components.schemas, ref).toHaveProperty(ref.slice('#/components/schemas/'.length));
    }
  });

  it('marks operations needing a principal with the bearer scheme and public ones with none', async () => {
    const h = makeHarness();
    const doc = (await request(h.app).get('/openapi.json')).body as { paths: Record<string, Record<string, { security: unknown[] }>> };
    expect(doc.paths['/batches/{id}']?.get?.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/machines']?.get?.security).toEqual([]);
  });
});

describe('request examples', () => {
  it('every operation with a body shows the checked example of its component', async () => {
    const h = makeHarness();
    const doc = (await request(h.app).get('/openapi.json')).body as { paths: Record<string, Record<string, { requestBody?: { content: { 'application/json': { example?: unknown } } } }>> };
    for (const op of OPERATIONS.filter((spec) => spec.body !== undefined)) {
      const example = doc.paths[op.path.replace(/:([a-z_]+)/g, '{$1}')]?.[op.method]?.requestBody?.content['application/json'].example;
      expect(example, op.operationId).toEqual(REQUEST_EXAMPLES[op.body ?? '']?.value);
    }
  });

  it('the examples work as sent: the envelope is accepted by POST /events and the registration by POST /batches', async () => {
    const h = makeHarness({ authenticate: openAuthenticator({ user_id: 'demo-teacher', org_id: 'demo-school', roles: [], kind: 'user' }) });
    const envelope = await request(h.app).post('/events').send(REQUEST_EXAMPLES.EventsRequest?.value as object);
    expect(envelope.status).toBe(200);
    expect(envelope.body).toMatchObject({ outcome: 'accepted', to: 'awaiting_content_validation' });
    const registered = await request(h.app).post('/batches').send(REQUEST_EXAMPLES.RegisterBatchBody?.value as object);
    expect(registered.status).toBe(201);
    const pipeline = await request(h.app).post(`/batches/${String(registered.body.batch_id)}/pipelines`).send(REQUEST_EXAMPLES.PipelineRequestBody?.value as object);
    expect(pipeline.status).toBe(409);
    expect(pipeline.body).toMatchObject({ details: { state: 'awaiting_content_validation' } });
  });
});

/** The src and href attributes of a page. */
const linksOf = (html: string): string[] => [...html.matchAll(/(?:src|href|data-spec)="([^"]+)"/g)].map((match) => match[1] ?? '');

describe('GET /docs', () => {
  it('is the Swagger UI page whose scripts and styles this router serves itself: no inline script, no CDN, under the CSP', async () => {
    const h = makeHarness();
    const res = await request(h.app).get('/docs');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.text).not.toMatch(/https?:\/\//);
    expect(res.text).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    const links = linksOf(res.text);
    expect(links).toEqual(['/docs/assets/swagger-ui.css', '/docs/assets/swagger-ui-bundle.js', '/docs/init.js', '/openapi.json', '/openapi.json']);
    for (const link of new Set(links)) {
      const asset = await request(h.app).get(link);
      expect(asset.status, link).toBe(200);
      expect(asset.headers['content-type'], link).toMatch(link.endsWith('.css') ? /^text\/css/ : link.endsWith('.js') ? /^text\/javascript/ : /^application\/json/);
    }
    expect((await request(h.app).get('/docs/assets/package.json')).status).toBe(404);
    expect((await request(h.app).get('/docs/assets/..%2Fpackage.json')).status).toBe(404);
  });

  it('builds every URL from the mount path, and the document names it as its server', async () => {
    const h = makeHarness();
    const host = express();
    host.use('/api', h.app);
    const page = await request(host).get('/api/docs');
    expect(linksOf(page.text)).toEqual(['/api/docs/assets/swagger-ui.css', '/api/docs/assets/swagger-ui-bundle.js', '/api/docs/init.js', '/api/openapi.json', '/api/openapi.json']);
    expect((await request(host).get('/api/docs/assets/swagger-ui-bundle.js')).status).toBe(200);
    expect((await request(host).get('/api/openapi.json')).body).toMatchObject({ servers: [{ url: '/api' }] });
    expect((await request(h.app).get('/openapi.json')).body).toMatchObject({ servers: [{ url: '/' }] });
  });

  it('without swagger-ui-dist lists every operation with no script and names the package to install', async () => {
    const h = makeHarness();
    const document = (await request(h.app).get('/openapi.json')).body as Record<string, unknown>;
    const router = Router();
    docsPageRoutes(router, () => document, null);
    const app = express().use(router);
    const res = await request(app).get('/docs');
    expect(res.status).toBe(200);
    for (const op of OPERATIONS) expect(res.text).toContain(op.path.replace(/:([a-z_]+)/g, '{$1}'));
    expect(res.text).toContain(`npm install ${SWAGGER_UI_PACKAGE}`);
    expect(res.text).not.toMatch(/<script|https?:\/\//);
    expect((await request(app).get('/docs/assets/swagger-ui-bundle.js')).status).toBe(404);
  });
});
