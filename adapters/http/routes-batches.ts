/**
 * The user routes of a batch. Each builds the SAME envelope a queue would carry and dispatches
 * it; user_id and org_id always come from the authenticated principal, never from the body.
 */
import type { Request, Response, Router } from 'express';
import type { PreparedEvent } from '../engine/prepared.js';
import { authorizedBatch, parseWith, pathId } from './access.js';
import { sendDispatchAnswer } from './answers.js';
import type { Principal } from './auth.js';
import type { HttpContext } from './context.js';
import { buildEnvelope } from './envelopes.js';
import { authorizeOrThrow, requirePrincipal, requirePrincipalOf } from './guard.js';
import { jsonBody, writable } from './limits.js';
import {
  AttachPromptBody,
  CancelBatchBody,
  CloseBatchBody,
  ConfirmAssociationsBody,
  PipelineRequestBody,
  RegisterBatchBody,
  RetryPhaseBody,
} from './schemas.js';

async function dispatchCommand(ctx: HttpContext, res: Response, batchId: string, event: PreparedEvent): Promise<void> {
  const { envelope } = event;
  const result = await ctx.dispatcher.dispatch(event);
  sendDispatchAnswer(res, result, {
    body: { batch_id: batchId, event_id: envelope.event_id, correlation_id: envelope.correlation_id, status: result.to, result },
  });
}

async function registerBatch(ctx: HttpContext, req: Request, res: Response): Promise<void> {
  const principal = requirePrincipalOf(res);
  const body = parseWith(RegisterBatchBody, req.body, 'batch registration');
  const batchId = ctx.newId();
  const owner = { user_id: principal.user_id, org_id: principal.org_id };
  await authorizeOrThrow(ctx.authorize, principal, 'batch.create', { kind: 'batch', batch_id: batchId, owner });
  const count = body.expected_essay_count ?? body.essay_ids?.length ?? 0;
  const essayIds = Array.from({ length: count }, () => ctx.newId());
  const event = buildEnvelope(ctx, req, 'BatchEssaysRegistered', {
    entity_id: batchId,
    expected_essay_count: count,
    essay_ids: essayIds,
    course_code: body.course_code,
    user_id: principal.user_id,
    org_id: principal.org_id,
    ...(body.class_id === undefined ? {} : { class_id: body.class_id }),
    ...(body.student_prompt_ref === undefined ? {} : { student_prompt_ref: body.student_prompt_ref }),
  });
  const { envelope } = event;
  const result = await ctx.dispatcher.dispatch(event);
  if (writable(res)) res.setHeader('Location', `/batches/${encodeURIComponent(batchId)}`);
  sendDispatchAnswer(res, result, {
    status: 201,
    body: { batch_id: batchId, essay_ids: essayIds, event_id: envelope.event_id, correlation_id: envelope.correlation_id, status: result.to, result },
  });
}

type CommandBuilder = (ctx: HttpContext, req: Request, batchId: string, principal: Principal) => PreparedEvent;

const requestPipeline: CommandBuilder = (ctx, req, batchId, principal) => {
  const body = parseWith(PipelineRequestBody, req.body, 'pipeline request');
  return buildEnvelope(ctx, req, 'ClientBatchPipelineRequestV1', {
    batch_id: batchId,
    requested_pipeline: body.requested_pipeline,
    user_id: principal.user_id,
    is_retry: body.is_retry ?? false,
    ...(body.phases === undefined ? {} : { phases: body.phases }),
    ...(body.prompt_payload == null ? {} : { prompt_payload: body.prompt_payload }),
    ...(body.retry_reason === undefined ? {} : { retry_reason: body.retry_reason }),
  });
};

const retryPhase: CommandBuilder = (ctx, req, batchId, principal) => {
  const body = parseWith(RetryPhaseBody, req.body, 'phase retry');
  return buildEnvelope(ctx, req, 'ClientBatchPhaseRetryRequestV1', {
    batch_id: batchId,
    phase_name: body.phase_name,
    reason: body.reason,
    user_id: principal.user_id,
    ...(body.essay_ids === undefined ? {} : { essay_ids: body.essay_ids }),
  });
};

const confirmAssociations: CommandBuilder = (ctx, req, batchId, principal) => {
  const body = parseWith(ConfirmAssociationsBody, req.body, 'association confirmation');
  return buildEnvelope(ctx, req, 'StudentAssociationsValidatedV1', { batch_id: batchId, user_id: principal.user_id, associations: body.associations });
};

const attachPrompt: CommandBuilder = (ctx, req, batchId, principal) => {
  const body = parseWith(AttachPromptBody, req.body, 'prompt');
  return buildEnvelope(ctx, req, 'BatchPromptAttachedV1', { batch_id: batchId, user_id: principal.user_id, ...body });
};

const closeBatch: CommandBuilder = (ctx, req, batchId, principal) => {
  parseWith(CloseBatchBody, req.body, 'close request');
  return buildEnvelope(ctx, req, 'BatchCloseRequestedV1', { batch_id: batchId, user_id: principal.user_id });
};

const cancelBatch: CommandBuilder = (ctx, req, batchId, principal) => {
  const body = parseWith(CancelBatchBody, req.body, 'cancel request');
  return buildEnvelope(ctx, req, 'BatchCancelRequestedV1', {
    batch_id: batchId,
    user_id: principal.user_id,
    ...(body.reason === undefined ? {} : { reason: body.reason }),
  });
};

/** Principal (401), body (415/413/400), batch (404), permission (403), then dispatch. */
function commandHandler(ctx: HttpContext, build: CommandBuilder) {
  return async (req: Request, res: Response): Promise<void> => {
    const principal = requirePrincipalOf(res);
    const batchId = pathId(req, 'id');
    const event = build(ctx, req, batchId, principal);
    await authorizedBatch(ctx, principal, batchId, 'batch.write');
    await dispatchCommand(ctx, res, batchId, event);
  };
}

/** Adds the batch write routes to `router`. */
export function batchRoutes(router: Router, ctx: HttpContext): void {
  const body = jsonBody(ctx.limits);
  router.post('/batches', requirePrincipal, ...body, (req, res) => registerBatch(ctx, req, res));
  router.post('/batches/:id/pipelines', requirePrincipal, ...body, commandHandler(ctx, requestPipeline));
  router.post('/batches/:id/retry-phase', requirePrincipal, ...body, commandHandler(ctx, retryPhase));
  router.post('/batches/:id/student-associations/confirm', requirePrincipal, ...body, commandHandler(ctx, confirmAssociations));
  router.patch('/batches/:id/prompt', requirePrincipal, ...body, commandHandler(ctx, attachPrompt));
  router.post('/batches/:id/close', requirePrincipal, ...body, commandHandler(ctx, closeBatch));
  router.post('/batches/:id/cancel', requirePrincipal, ...body, commandHandler(ctx, cancelBatch));
}
