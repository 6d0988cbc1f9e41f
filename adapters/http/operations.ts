/**
 * The list of operations the router serves, for the OpenAPI document and the docs page. The
 * schemas they name are components generated from zod (openapi.ts); nothing here is a schema.
 */
import type { z } from 'zod';
import { DeadLetterQuery, HistoryQuery, ListBatchesQuery, MachineQuery, PageQuery, StreamQuery } from './schemas.js';

/** One operation. */
export interface OperationSpec {
  readonly method: 'get' | 'post' | 'patch';
  /** Express-style path (`:id`). */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly tag: 'events' | 'batches' | 'reads' | 'machines' | 'stream' | 'docs' | 'operator';
  /** True when the operation needs a principal (bearer token unless the host runs open). */
  readonly auth: boolean;
  /** Component name of the JSON request body. */
  readonly body?: string;
  readonly bodyRequired?: boolean;
  readonly query?: z.ZodType;
  /** Media types of the success response, when not JSON. */
  readonly produces?: readonly string[];
  readonly responses: Readonly<Record<string, string>>;
}

const AUTH = { '401': 'No or invalid credentials', '429': 'Rate limit exceeded (Retry-After)' } as const;
const WRITE = {
  ...AUTH,
  '400': 'Invalid body (details.issues names the fields)',
  '413': 'Body too large',
  '415': 'Body is not JSON',
  '403': 'Not the batch owner',
  '404': 'No such batch',
  '409': 'Refused by the machine (state, accepting_states)',
  '503': 'Cannot be applied now (SNAPSHOT_INCOMPATIBLE, SNAPSHOT_CORRUPT, MACHINE_ERROR; details.retryable, Retry-After): nothing written, retry',
} as const;
const READ = { ...AUTH, '400': 'Invalid path or query', '403': 'Not the batch owner', '404': 'Not found' } as const;

/** Every operation of the router. */
export const OPERATIONS: readonly OperationSpec[] = [
  {
    method: 'post', path: '/events', operationId: 'postEvents', tag: 'events', auth: true, body: 'EventsRequest',
    summary: 'Dispatch one envelope, or { events: [...] } committed together',
    responses: { '200': 'Dispatch result (one) or per-item results (many); duplicates answer their first outcome', '422': 'Unknown event_type', ...WRITE, '413': 'Body too large, or more events than allowed' },
  },
  {
    method: 'post', path: '/batches', operationId: 'registerBatch', tag: 'batches', auth: true, body: 'RegisterBatchBody',
    summary: 'Register a batch (BatchEssaysRegistered); the owner is the caller',
    responses: { '201': 'Registered: batch_id and generated essay_ids', ...WRITE },
  },
  {
    method: 'post', path: '/batches/:id/pipelines', operationId: 'requestPipeline', tag: 'batches', auth: true, body: 'PipelineRequestBody',
    summary: 'Request a pipeline run (ClientBatchPipelineRequestV1)', responses: { '200': 'Dispatch answer', ...WRITE },
  },
  {
    method: 'post', path: '/batches/:id/retry-phase', operationId: 'retryPhase', tag: 'batches', auth: true, body: 'RetryPhaseBody',
    summary: 'Re-run one phase for the essays that failed it, then the phases they missed (ClientBatchPhaseRetryRequestV1); the batch must be ready',
    responses: {
      '200': 'Dispatch answer (the retry run started, or PipelineDeniedV1 by the admission hook)',
      ...WRITE,
      '400': 'Invalid body: unknown phase_name, no reason, or an essay_ids subset for cj_assessment',
      '409': 'Refused by the batch: busy (not ready_for_pipeline_execution), nothing failed the phase, or an essay in essay_ids did not fail it',
    },
  },
  {
    method: 'post', path: '/batches/:id/student-associations/confirm', operationId: 'confirmAssociations', tag: 'batches', auth: true, body: 'ConfirmAssociationsBody',
    summary: 'Confirm or reject suggested student associations (StudentAssociationsValidatedV1)', responses: { '200': 'Dispatch answer', ...WRITE },
  },
  {
    method: 'patch', path: '/batches/:id/prompt', operationId: 'attachPrompt', tag: 'batches', auth: true, body: 'AttachPromptBody',
    summary: 'Attach or replace the prompt (BatchPromptAttachedV1)', responses: { '200': 'Dispatch answer', ...WRITE },
  },
  {
    method: 'post', path: '/batches/:id/close', operationId: 'closeBatch', tag: 'batches', auth: true, body: 'CloseBatchBody', bodyRequired: false,
    summary: 'Close a ready batch (BatchCloseRequestedV1)', responses: { '200': 'Dispatch answer', ...WRITE },
  },
  {
    method: 'post', path: '/batches/:id/cancel', operationId: 'cancelBatch', tag: 'batches', auth: true, body: 'CancelBatchBody', bodyRequired: false,
    summary: 'Cancel a batch (BatchCancelRequestedV1)', responses: { '200': 'Dispatch answer', ...WRITE },
  },
  {
    method: 'get', path: '/batches', operationId: 'listBatches', tag: 'reads', auth: true, query: ListBatchesQuery,
    summary: 'Batches the caller may read, oldest first', responses: { '200': 'A page of batches', ...READ },
  },
  {
    method: 'get', path: '/batches/:id', operationId: 'getBatch', tag: 'reads', auth: true,
    summary: 'A batch: status, client_status, essay counts, pipeline run, last run', responses: { '200': 'The batch', ...READ },
  },
  {
    method: 'get', path: '/batches/:id/essays', operationId: 'listBatchEssays', tag: 'reads', auth: true, query: PageQuery,
    summary: 'The essays of a batch', responses: { '200': 'A page of essays', ...READ },
  },
  {
    method: 'get', path: '/essays/:id', operationId: 'getEssay', tag: 'reads', auth: true,
    summary: 'One essay', responses: { '200': 'The essay', ...READ },
  },
  {
    method: 'get', path: '/entities/:machine/:id/history', operationId: 'getHistory', tag: 'reads', auth: true, query: HistoryQuery,
    summary: 'Audit rows of one entity (every event it took or refused)', responses: { '200': 'Audit rows', ...READ },
  },
  {
    method: 'get', path: '/counts', operationId: 'getCounts', tag: 'reads', auth: true,
    summary: 'Entities per machine and status', responses: { '200': 'Counts', ...AUTH, '403': 'Not allowed' },
  },
  {
    method: 'get', path: '/stream', operationId: 'stream', tag: 'stream', auth: true, produces: ['text/event-stream'], query: StreamQuery,
    summary: 'Server-sent events: every committed transition the caller may see, read from the audit log (any process); id = audit position, resume with Last-Event-ID or ?after=', responses: { '200': 'An event stream', ...AUTH, '403': 'Not allowed', '503': 'Too many subscribers' },
  },
  {
    method: 'get', path: '/machines', operationId: 'listMachines', tag: 'machines', auth: false,
    summary: 'The machines of the engine', responses: { '200': 'Machine ids and versions' },
  },
  {
    method: 'get', path: '/machines/:name', operationId: 'getMachine', tag: 'machines', auth: false, query: MachineQuery, produces: ['application/json', 'image/svg+xml'],
    summary: 'A machine definition (JSON) or diagram (?format=svg or Accept: image/svg+xml; ?active= highlights states)',
    responses: { '200': 'Definition or SVG', '400': 'Invalid query', '404': 'No such machine' },
  },
  {
    method: 'post', path: '/entities/:machine/:id/force', operationId: 'forceEntity', tag: 'operator', auth: true, body: 'ForceBody',
    summary: 'Admin: move an entity to a named state with a reason (audited; emits nothing)',
    responses: { '200': 'Dispatch answer (outcome accepted, or duplicate for a repeated event_id)', ...WRITE, '400': 'Invalid body, or not a state of the machine (UNKNOWN_STATE)', '403': 'Not an admin', '404': 'No such machine or entity', '409': 'FORCE_REFUSED: the move is unsafe by the machine definition' },
  },
  {
    method: 'get', path: '/dead-letters', operationId: 'listDeadLetters', tag: 'operator', auth: true, query: DeadLetterQuery,
    summary: 'Admin: dead-letter counts (total, pending) and dead letters of the queues this server was given',
    responses: { '200': 'counts and dead_letters (each with applied: its event took effect)', ...READ, '403': 'Not an admin' },
  },
  {
    method: 'get', path: '/dead-letters/:queue/:id', operationId: 'getDeadLetter', tag: 'operator', auth: true,
    summary: 'Admin: one dead letter (embedded row id or NATS dead-letter stream sequence)', responses: { '200': 'The dead letter', ...READ, '403': 'Not an admin' },
  },
  {
    method: 'post', path: '/dead-letters/:queue/:id/redrive', operationId: 'redriveDeadLetter', tag: 'operator', auth: true,
    summary: 'Admin: send a dead letter through the engine again (duplicate when it already took effect)',
    responses: { '200': 'The engine\'s answer (result.outcome accepted, refused, duplicate or invalid)', ...READ, '403': 'Not an admin' },
  },
  {
    method: 'post', path: '/dead-letters/:queue/redrive', operationId: 'redriveAllDeadLetters', tag: 'operator', auth: true,
    summary: 'Admin: redrive every dead letter of a queue that has not taken effect', responses: { '200': 'Per-letter results and a summary', ...READ, '403': 'Not an admin' },
  },
  { method: 'get', path: '/openapi.json', operationId: 'openApi', tag: 'docs', auth: false, summary: 'This document', responses: { '200': 'OpenAPI 3.1 document' } },
  { method: 'get', path: '/docs', operationId: 'docs', tag: 'docs', auth: false, produces: ['text/html'], summary: 'This API reference page (Swagger UI when swagger-ui-dist is installed, else a plain list)', responses: { '200': 'HTML' } },
];
