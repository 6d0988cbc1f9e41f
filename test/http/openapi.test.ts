import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
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
    expect(new Set(documented)).toEqual(new Set(servedRoutes(h.app)));
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

describe('GET /docs', () => {
  it('is an HTML page listing every operation, with no script and nothing from a CDN', async () => {
    const h = makeHarness();
    const res = await request(h.app).get('/docs');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    for (const op of OPERATIONS) expect(res.text).toContain(op.path.replace(/:([a-z_]+)/g, '{$1}'));
    expect(res.text).not.toMatch(/<script|https?:\/\//);
  });
});
