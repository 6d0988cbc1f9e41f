/** How the tracker drives essays: EssayTransitionRequestedV1 messages, one trigger each. */
import type { EventMeta } from '../contracts/envelope.js';
import type { EssayTrigger } from '../contracts/events-internal.js';
import { outbound, SourceService } from '../contracts/messages.js';
import type { PipelinePhase } from '../contracts/statuses.js';
import type { BatchTrackerEmitted } from './types.js';

/** The essay triggers of each pipeline phase. */
export const PHASE_TRIGGERS = {
  spellcheck: {
    initiate: 'CMD_INITIATE_SPELLCHECK',
    retry: 'CMD_RETRY_SPELLCHECK',
    started: 'EVT_SPELLCHECK_STARTED',
    succeeded: 'EVT_SPELLCHECK_SUCCEEDED',
    failed: 'EVT_SPELLCHECK_FAILED',
  },
  nlp: {
    initiate: 'CMD_INITIATE_NLP',
    retry: 'CMD_RETRY_NLP',
    started: 'EVT_NLP_STARTED',
    succeeded: 'EVT_NLP_SUCCEEDED',
    failed: 'EVT_NLP_FAILED',
  },
  cj_assessment: {
    initiate: 'CMD_INITIATE_CJ_ASSESSMENT',
    retry: 'CMD_RETRY_CJ_ASSESSMENT',
    started: 'EVT_CJ_ASSESSMENT_STARTED',
    succeeded: 'EVT_CJ_ASSESSMENT_SUCCEEDED',
    failed: 'EVT_CJ_ASSESSMENT_FAILED',
  },
  ai_feedback: {
    initiate: 'CMD_INITIATE_AI_FEEDBACK',
    retry: 'CMD_RETRY_AI_FEEDBACK',
    started: 'EVT_AI_FEEDBACK_STARTED',
    succeeded: 'EVT_AI_FEEDBACK_SUCCEEDED',
    failed: 'EVT_AI_FEEDBACK_FAILED',
  },
} as const satisfies Record<PipelinePhase, Record<'initiate' | 'retry' | 'started' | 'succeeded' | 'failed', EssayTrigger>>;

/** Optional fields of a transition request. */
export interface TransitionRequestOptions {
  readonly run_id?: number;
  readonly text_storage_id?: string;
  readonly reason?: string;
}

/** One EssayTransitionRequestedV1 for `essay_id` of `batch_id`, caused by `meta`. */
export function transitionRequest(
  batchId: string,
  essayId: string,
  trigger: EssayTrigger,
  meta: EventMeta,
  options: TransitionRequestOptions = {},
): BatchTrackerEmitted {
  return outbound('huleedu.els.essay.transition.requested.v1', meta, SourceService.TRACKER, {
    essay_id: essayId,
    batch_id: batchId,
    trigger,
    ...options,
  });
}
