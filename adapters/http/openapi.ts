/**
 * `GET /openapi.json` and `GET /docs`. Every schema in the document is generated with
 * `z.toJSONSchema` from the zod schemas the code parses with (the event envelopes of the
 * contracts, the route bodies and queries, the error body); only the list of operations is
 * written here. `/docs` is a small HTML page rendered on the server from that document.
 */
import type { Router } from 'express';
import { z } from 'zod';
import { LifecycleEvents } from '../../machines/contracts/events.js';
import type { HttpContext } from './context.js';
import type { HttpLimits } from './limits.js';
import { ErrorBody } from './errors.js';
import { OPERATIONS, type OperationSpec } from './operations.js';
import {
  AttachPromptBody,
  CancelBatchBody,
  CloseBatchBody,
  ConfirmAssociationsBody,
  PipelineRequestBody,
  RegisterBatchBody,
} from './schemas.js';

type JsonObject = Record<string, unknown>;

const REF = (id: string): JsonObject => ({ $ref: `#/components/schemas/${id}` });

function componentSchemas(eventsPerRequest: number): Record<string, JsonObject> {
  const registry = z.registry<{ id: string; description?: string }>();
  const envelopes = Object.entries(LifecycleEvents).map(([name, definition]) => {
    // The declaration's sender class and batch field, so a client sees who may send it and what it is for.
    registry.add(definition.envelope, { id: name, description: `${definition.topic}: sender class ${definition.sender}; the batch is data.${definition.batch}` });
    return definition.envelope;
  });
  const [first, second, ...rest] = envelopes;
  if (first === undefined || second === undefined) throw new Error('the contracts define fewer than two events');
  const envelope = z.union([first, second, ...rest]);
  const group = z.strictObject({ events: z.array(envelope).min(1).max(eventsPerRequest) });
  const bodies: Record<string, z.ZodType> = {
    LifecycleEnvelope: envelope,
    EventGroup: group,
    EventsRequest: z.union([envelope, group]),
    RegisterBatchBody,
    PipelineRequestBody,
    ConfirmAssociationsBody,
    AttachPromptBody,
    CloseBatchBody,
    CancelBatchBody,
    ErrorBody,
  };
  for (const [id, schema] of Object.entries(bodies)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { io: 'input', unrepresentable: 'any', uri: (id) => `#/components/schemas/${id}` });
  const out: Record<string, JsonObject> = {};
  for (const [id, schema] of Object.entries(schemas)) {
    const { $schema: _dialect, $id: _id, ...rest } = schema as JsonObject;
    out[id] = rest;
  }
  return out;
}

function queryParameters(schema: z.ZodType | undefined): JsonObject[] {
  if (schema === undefined) return [];
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, JsonObject>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: 'query',
    required: json.required?.includes(name) ?? false,
    schema: property,
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
  }));
}

function operationObject(spec: OperationSpec): JsonObject {
  const pathParameters = [...spec.path.matchAll(/:([a-z_]+)/g)].map((match) => ({ name: match[1], in: 'path', required: true, schema: { type: 'string', minLength: 1, maxLength: 255 } }));
  const responses: JsonObject = {};
  for (const [status, description] of Object.entries(spec.responses)) {
    const isError = Number(status) >= 400;
    responses[status] = {
      description,
      ...(isError ? { content: { 'application/json': { schema: REF('ErrorBody') } } } : spec.produces === undefined ? {} : { content: Object.fromEntries(spec.produces.map((type) => [type, {}])) }),
    };
  }
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    tags: [spec.tag],
    security: spec.auth ? [{ bearer: [] }] : [],
    parameters: [...pathParameters, ...queryParameters(spec.query)],
    ...(spec.body === undefined ? {} : { requestBody: { required: spec.bodyRequired ?? true, content: { 'application/json': { schema: REF(spec.body) } } } }),
    responses,
  };
}

/** The OpenAPI 3.1 document of the routes. */
export function openApiDocument(ctx: { readonly limits: HttpLimits }): Record<string, unknown> {
  const paths: Record<string, JsonObject> = {};
  for (const spec of OPERATIONS) {
    const path = spec.path.replace(/:([a-z_]+)/g, '{$1}');
    paths[path] = { ...(paths[path] ?? {}), [spec.method]: operationObject(spec) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Essay lifecycle API',
      version: '1',
      description: 'Event intake, batch commands and read models over the durable XState engine. Errors are { code, message, details }.',
    },
    paths,
    components: {
      schemas: componentSchemas(ctx.limits.eventsPerRequest),
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
  };
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char);

/** The `/docs` page: every operation of the document, no scripts, no CDN. */
export function docsPage(document: JsonObject): string {
  const rows = Object.entries(document.paths as Record<string, Record<string, { summary: string; security: unknown[]; operationId: string }>>)
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
<style>body{font:14px/1.4 system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left}.m{font-weight:bold}code{font-size:13px}</style>
</head><body>
<h1>Essay lifecycle API</h1>
<p>The machine-readable document is <a href="/openapi.json">/openapi.json</a> (OpenAPI ${escapeHtml(String(document.openapi))}). Errors are <code>{ code, message, details }</code>.</p>
<table><thead><tr><th>Method</th><th>Path</th><th>What it does</th><th>Auth</th></tr></thead><tbody>
${rows}
</tbody></table>
<h2>Schemas</h2><p>${schemas.map((name) => `<code>${escapeHtml(name)}</code>`).join(', ')}</p>
</body></html>`;
}

/** Adds the `/openapi.json` and `/docs` routes to `router` (the document is built once, on first use). */
export function docRoutes(router: Router, ctx: HttpContext): void {
  let document: JsonObject | undefined;
  const get = (): JsonObject => (document ??= openApiDocument(ctx));
  router.get('/openapi.json', (_req, res) => {
    res.status(200).json(get());
  });
  router.get('/docs', (_req, res) => {
    res.status(200).type('text/html; charset=utf-8').send(docsPage(get()));
  });
}
