/**
 * `GET /openapi.json` and `GET /docs`. Every schema in the document is generated with
 * `z.toJSONSchema` from the zod schemas the code parses with (the event envelopes of the
 * contracts, the route bodies and queries, the error body); only the list of operations is
 * written here; request bodies carry the checked examples of examples.ts. `/docs` is the API
 * reference page over this document (docs-page.ts).
 */
import type { Router } from 'express';
import { z } from 'zod';
import { LifecycleEvents } from '../../machines/contracts/events.js';
import type { HttpContext } from './context.js';
import { docsPageRoutes } from './docs-page.js';
import type { HttpLimits } from './limits.js';
import { ErrorBody } from './errors.js';
import { requestExample } from './examples.js';
import { OPERATIONS, type OperationSpec } from './operations.js';
import {
  AttachPromptBody,
  CancelBatchBody,
  RetryPhaseBody,
  CloseBatchBody,
  ConfirmAssociationsBody,
  ForceBody,
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
    RetryPhaseBody,
    ForceBody,
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

/** The JSON body of an operation: its component schema and, when there is one, a checked example (examples.ts). */
function bodyMedia(component: string): JsonObject {
  const example = requestExample(component);
  return { schema: REF(component), ...(example === undefined ? {} : { example }) };
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
    ...(spec.body === undefined ? {} : { requestBody: { required: spec.bodyRequired ?? true, content: { 'application/json': bodyMedia(spec.body) } } }),
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

/**
 * Adds `/openapi.json` and the `/docs` page (docs-page.ts) to `router` (the document is built
 * once, on first use). The document's `servers` entry is the router's mount path, so try-it on
 * the page calls this router wherever the host mounted it.
 */
export function docRoutes(router: Router, ctx: HttpContext): void {
  let document: JsonObject | undefined;
  const get = (): JsonObject => (document ??= openApiDocument(ctx));
  router.get('/openapi.json', (req, res) => {
    res.status(200).json({ ...get(), servers: [{ url: req.baseUrl === '' ? '/' : req.baseUrl }] });
  });
  docsPageRoutes(router, get);
}
