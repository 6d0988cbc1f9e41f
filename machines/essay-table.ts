/**
 * The essay transition table: the reference's 18 rows exactly (reference.md 2.1, asymmetries
 * included), the two content rows ELS performs outside its machine, and the editor-revision
 * and grammar-check phases wired with the same four-state pattern as spellcheck.
 */
import { EssayStatus, type PipelinePhase } from './contracts/statuses.js';
import type { EssayTrigger } from './contracts/events-internal.js';

/** Every essay status, in the reference's declaration order. */
export const ESSAY_STATES = Object.values(EssayStatus);

/** Event types of the essay machine that are not triggers. */
export type EssayContentEventType = 'SLOT_ASSIGNED' | 'CONTENT_FAILED';

/** One row: this event moves an essay from any of `from` to `to`. */
export interface EssayTransitionRow {
  readonly event: EssayTrigger | EssayContentEventType;
  readonly from: readonly EssayStatus[] | '*';
  readonly to: EssayStatus;
}

const S = EssayStatus;

/** The reference's 18 rows, in its order. */
export const REFERENCE_ESSAY_TRANSITIONS: readonly EssayTransitionRow[] = [
  { event: 'CMD_INITIATE_SPELLCHECK', from: [S.READY_FOR_PROCESSING], to: S.AWAITING_SPELLCHECK },
  { event: 'EVT_SPELLCHECK_STARTED', from: [S.AWAITING_SPELLCHECK], to: S.SPELLCHECKING_IN_PROGRESS },
  { event: 'EVT_SPELLCHECK_SUCCEEDED', from: [S.SPELLCHECKING_IN_PROGRESS, S.AWAITING_SPELLCHECK], to: S.SPELLCHECKED_SUCCESS },
  { event: 'EVT_SPELLCHECK_FAILED', from: [S.SPELLCHECKING_IN_PROGRESS, S.AWAITING_SPELLCHECK], to: S.SPELLCHECK_FAILED },
  { event: 'CMD_INITIATE_AI_FEEDBACK', from: [S.SPELLCHECKED_SUCCESS, S.NLP_SUCCESS, S.CJ_ASSESSMENT_SUCCESS], to: S.AWAITING_AI_FEEDBACK },
  { event: 'EVT_AI_FEEDBACK_STARTED', from: [S.AWAITING_AI_FEEDBACK], to: S.AI_FEEDBACK_IN_PROGRESS },
  { event: 'EVT_AI_FEEDBACK_SUCCEEDED', from: [S.AI_FEEDBACK_IN_PROGRESS], to: S.AI_FEEDBACK_SUCCESS },
  { event: 'EVT_AI_FEEDBACK_FAILED', from: [S.AI_FEEDBACK_IN_PROGRESS, S.AWAITING_AI_FEEDBACK], to: S.AI_FEEDBACK_FAILED },
  { event: 'CMD_INITIATE_CJ_ASSESSMENT', from: [S.SPELLCHECKED_SUCCESS, S.AI_FEEDBACK_SUCCESS, S.NLP_SUCCESS], to: S.AWAITING_CJ_ASSESSMENT },
  { event: 'EVT_CJ_ASSESSMENT_STARTED', from: [S.AWAITING_CJ_ASSESSMENT], to: S.CJ_ASSESSMENT_IN_PROGRESS },
  { event: 'EVT_CJ_ASSESSMENT_SUCCEEDED', from: [S.CJ_ASSESSMENT_IN_PROGRESS, S.AWAITING_CJ_ASSESSMENT], to: S.CJ_ASSESSMENT_SUCCESS },
  { event: 'EVT_CJ_ASSESSMENT_FAILED', from: [S.CJ_ASSESSMENT_IN_PROGRESS, S.AWAITING_CJ_ASSESSMENT], to: S.CJ_ASSESSMENT_FAILED },
  { event: 'CMD_INITIATE_NLP', from: [S.SPELLCHECKED_SUCCESS, S.AI_FEEDBACK_SUCCESS, S.CJ_ASSESSMENT_SUCCESS], to: S.AWAITING_NLP },
  { event: 'EVT_NLP_STARTED', from: [S.AWAITING_NLP], to: S.NLP_IN_PROGRESS },
  { event: 'EVT_NLP_SUCCEEDED', from: [S.NLP_IN_PROGRESS, S.AWAITING_NLP], to: S.NLP_SUCCESS },
  { event: 'EVT_NLP_FAILED', from: [S.NLP_IN_PROGRESS, S.AWAITING_NLP], to: S.NLP_FAILED },
  {
    event: 'CMD_MARK_PIPELINE_COMPLETE',
    from: [S.SPELLCHECKED_SUCCESS, S.AI_FEEDBACK_SUCCESS, S.CJ_ASSESSMENT_SUCCESS, S.NLP_SUCCESS],
    to: S.ALL_PROCESSING_COMPLETED,
  },
  { event: 'EVT_CRITICAL_FAILURE', from: '*', to: S.ESSAY_CRITICAL_FAILURE },
];

const INGESTING = [S.UPLOADED, S.CONTENT_INGESTING, S.TEXT_EXTRACTED];

/**
 * What ELS does outside the reference's machine: content assignment and validation failure
 * (from `uploaded`, as the reference does by SQL). We also give the reference's two unused
 * ingestion statuses a meaning: a file service may report progress on a slot it was given
 * (uploaded -> content_ingesting -> text_extracted); assignment and failure end either.
 */
export const CONTENT_ESSAY_TRANSITIONS: readonly EssayTransitionRow[] = [
  { event: 'EVT_CONTENT_INGESTION_STARTED', from: [S.UPLOADED], to: S.CONTENT_INGESTING },
  { event: 'EVT_TEXT_EXTRACTED', from: [S.CONTENT_INGESTING], to: S.TEXT_EXTRACTED },
  { event: 'SLOT_ASSIGNED', from: INGESTING, to: S.READY_FOR_PROCESSING },
  { event: 'CONTENT_FAILED', from: INGESTING, to: S.CONTENT_INGESTION_FAILED },
];

/** The four pipeline-phase success states (where a further phase may start). */
const PHASE_SUCCESS_STATES = [S.SPELLCHECKED_SUCCESS, S.AI_FEEDBACK_SUCCESS, S.CJ_ASSESSMENT_SUCCESS, S.NLP_SUCCESS];
/**
 * Editor revision and grammar check: declared by the reference, never wired. Same four-state
 * pattern as the other phases: initiate from any of the four pipeline-phase success states;
 * started; succeeded or failed from awaiting or in progress. Their success states accept only
 * EVT_CRITICAL_FAILURE (the reference's table gives them no way on), so they are end states.
 */
export const EXTRA_PHASE_ESSAY_TRANSITIONS: readonly EssayTransitionRow[] = [
  { event: 'CMD_INITIATE_EDITOR_REVISION', from: PHASE_SUCCESS_STATES, to: S.AWAITING_EDITOR_REVISION },
  { event: 'EVT_EDITOR_REVISION_STARTED', from: [S.AWAITING_EDITOR_REVISION], to: S.EDITOR_REVISION_IN_PROGRESS },
  { event: 'EVT_EDITOR_REVISION_SUCCEEDED', from: [S.EDITOR_REVISION_IN_PROGRESS, S.AWAITING_EDITOR_REVISION], to: S.EDITOR_REVISION_SUCCESS },
  { event: 'EVT_EDITOR_REVISION_FAILED', from: [S.EDITOR_REVISION_IN_PROGRESS, S.AWAITING_EDITOR_REVISION], to: S.EDITOR_REVISION_FAILED },
  { event: 'CMD_INITIATE_GRAMMAR_CHECK', from: PHASE_SUCCESS_STATES, to: S.AWAITING_GRAMMAR_CHECK },
  { event: 'EVT_GRAMMAR_CHECK_STARTED', from: [S.AWAITING_GRAMMAR_CHECK], to: S.GRAMMAR_CHECK_IN_PROGRESS },
  { event: 'EVT_GRAMMAR_CHECK_SUCCEEDED', from: [S.GRAMMAR_CHECK_IN_PROGRESS, S.AWAITING_GRAMMAR_CHECK], to: S.GRAMMAR_CHECK_SUCCESS },
  { event: 'EVT_GRAMMAR_CHECK_FAILED', from: [S.GRAMMAR_CHECK_IN_PROGRESS, S.AWAITING_GRAMMAR_CHECK], to: S.GRAMMAR_CHECK_FAILED },
];

/**
 * Retry-phase (our addition; the reference's `*_failed` states have no way out): the tracker
 * moves an essay that failed a pipeline phase back to awaiting that phase when an operator or
 * the batch's owner retries the phase (ClientBatchPhaseRetryRequestV1).
 */
export const RETRY_ESSAY_TRANSITIONS: readonly EssayTransitionRow[] = [
  { event: 'CMD_RETRY_SPELLCHECK', from: [S.SPELLCHECK_FAILED], to: S.AWAITING_SPELLCHECK },
  { event: 'CMD_RETRY_NLP', from: [S.NLP_FAILED], to: S.AWAITING_NLP },
  { event: 'CMD_RETRY_CJ_ASSESSMENT', from: [S.CJ_ASSESSMENT_FAILED], to: S.AWAITING_CJ_ASSESSMENT },
  { event: 'CMD_RETRY_AI_FEEDBACK', from: [S.AI_FEEDBACK_FAILED], to: S.AWAITING_AI_FEEDBACK },
];

/** The whole table of our essay machine. */
export const ESSAY_TRANSITIONS: readonly EssayTransitionRow[] = [
  ...CONTENT_ESSAY_TRANSITIONS,
  ...REFERENCE_ESSAY_TRANSITIONS,
  ...EXTRA_PHASE_ESSAY_TRANSITIONS,
  ...RETRY_ESSAY_TRANSITIONS,
];

/** The states an event moves an essay out of, with `*` expanded. */
export function sourcesOf(row: EssayTransitionRow): readonly EssayStatus[] {
  return row.from === '*' ? ESSAY_STATES : row.from;
}

/** The pipeline phase a trigger belongs to (undefined for content, completion and critical triggers). */
export function phaseOfTrigger(event: string): PipelinePhase | undefined {
  if (event.includes('SPELLCHECK')) return 'spellcheck';
  if (event.includes('AI_FEEDBACK')) return 'ai_feedback';
  if (event.includes('CJ_ASSESSMENT')) return 'cj_assessment';
  if (/_NLP(_|$)/.test(event)) return 'nlp';
  return undefined;
}

/** The kind of step a trigger is: initiate (a retry too), started, succeeded, failed, or other. */
export function stepOfTrigger(event: string): 'initiate' | 'started' | 'succeeded' | 'failed' | 'other' {
  if (event.startsWith('CMD_INITIATE_') || event.startsWith('CMD_RETRY_')) return 'initiate';
  if (event.endsWith('_STARTED')) return 'started';
  if (event.endsWith('_SUCCEEDED')) return 'succeeded';
  if (event.endsWith('_FAILED') && event !== 'EVT_CRITICAL_FAILURE') return 'failed';
  return 'other';
}
