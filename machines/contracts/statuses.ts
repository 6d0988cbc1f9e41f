/**
 * Every status vocabulary of the reference system (reference.md section 1), as `as const`
 * objects with derived union types. The string values are the wire values: they appear
 * unchanged in events, snapshots and the HTTP API.
 */

/** Lifecycle status of a batch; the batch machine's state values are exactly these strings. */
export const BatchStatus = {
  AWAITING_CONTENT_VALIDATION: 'awaiting_content_validation',
  CONTENT_INGESTION_FAILED: 'content_ingestion_failed',
  AWAITING_PIPELINE_CONFIGURATION: 'awaiting_pipeline_configuration',
  READY_FOR_PIPELINE_EXECUTION: 'ready_for_pipeline_execution',
  PROCESSING_PIPELINES: 'processing_pipelines',
  AWAITING_STUDENT_VALIDATION: 'awaiting_student_validation',
  STUDENT_VALIDATION_COMPLETED: 'student_validation_completed',
  VALIDATION_TIMEOUT_PROCESSED: 'validation_timeout_processed',
  COMPLETED_SUCCESSFULLY: 'completed_successfully',
  COMPLETED_WITH_FAILURES: 'completed_with_failures',
  FAILED_CRITICALLY: 'failed_critically',
  CANCELLED: 'cancelled',
} as const;
export type BatchStatus = (typeof BatchStatus)[keyof typeof BatchStatus];

/** Lifecycle status of one essay; the essay machine's state values are exactly these strings. */
export const EssayStatus = {
  UPLOADED: 'uploaded',
  TEXT_EXTRACTED: 'text_extracted',
  CONTENT_INGESTING: 'content_ingesting',
  CONTENT_INGESTION_FAILED: 'content_ingestion_failed',
  READY_FOR_PROCESSING: 'ready_for_processing',
  AWAITING_SPELLCHECK: 'awaiting_spellcheck',
  SPELLCHECKING_IN_PROGRESS: 'spellchecking_in_progress',
  SPELLCHECKED_SUCCESS: 'spellchecked_success',
  SPELLCHECK_FAILED: 'spellcheck_failed',
  AWAITING_NLP: 'awaiting_nlp',
  NLP_IN_PROGRESS: 'nlp_processing_in_progress',
  NLP_SUCCESS: 'nlp_success',
  NLP_FAILED: 'nlp_failed',
  AWAITING_AI_FEEDBACK: 'awaiting_ai_feedback',
  AI_FEEDBACK_IN_PROGRESS: 'ai_feedback_processing_in_progress',
  AI_FEEDBACK_SUCCESS: 'ai_feedback_success',
  AI_FEEDBACK_FAILED: 'ai_feedback_failed',
  AWAITING_EDITOR_REVISION: 'awaiting_editor_revision',
  EDITOR_REVISION_IN_PROGRESS: 'editor_revision_processing_in_progress',
  EDITOR_REVISION_SUCCESS: 'editor_revision_success',
  EDITOR_REVISION_FAILED: 'editor_revision_failed',
  AWAITING_GRAMMAR_CHECK: 'awaiting_grammar_check',
  GRAMMAR_CHECK_IN_PROGRESS: 'grammar_check_processing_in_progress',
  GRAMMAR_CHECK_SUCCESS: 'grammar_check_success',
  GRAMMAR_CHECK_FAILED: 'grammar_check_failed',
  AWAITING_CJ_ASSESSMENT: 'awaiting_cj_assessment',
  CJ_ASSESSMENT_IN_PROGRESS: 'cj_assessment_processing_in_progress',
  CJ_ASSESSMENT_SUCCESS: 'cj_assessment_success',
  CJ_ASSESSMENT_FAILED: 'cj_assessment_failed',
  ALL_PROCESSING_COMPLETED: 'all_processing_completed',
  ESSAY_CRITICAL_FAILURE: 'essay_critical_failure',
} as const;
export type EssayStatus = (typeof EssayStatus)[keyof typeof EssayStatus];

/** The coarse status shown to clients (reference.md 1.3). */
export const BatchClientStatus = {
  PENDING_CONTENT: 'pending_content',
  READY: 'ready',
  PROCESSING: 'processing',
  COMPLETED_SUCCESSFULLY: 'completed_successfully',
  COMPLETED_WITH_FAILURES: 'completed_with_failures',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
} as const;
export type BatchClientStatus = (typeof BatchClientStatus)[keyof typeof BatchClientStatus];

const clientStatusByBatchStatus: Readonly<Record<BatchStatus, BatchClientStatus>> = {
  awaiting_content_validation: 'pending_content',
  // Deviation from the reference (pending_content): here the batch has its content and holds a
  // parked pipeline request until the user attaches a prompt; the next move is the user's.
  awaiting_pipeline_configuration: 'ready',
  content_ingestion_failed: 'failed',
  ready_for_pipeline_execution: 'ready',
  processing_pipelines: 'processing',
  awaiting_student_validation: 'processing',
  student_validation_completed: 'processing',
  validation_timeout_processed: 'processing',
  completed_successfully: 'completed_successfully',
  completed_with_failures: 'completed_with_failures',
  failed_critically: 'failed',
  cancelled: 'cancelled',
};

/**
 * Maps an internal batch status to the client status of reference.md 1.3 (the gateway's
 * table; an unknown or missing status is `pending_content`, as the gateway and BFF do), with
 * one deviation: `awaiting_pipeline_configuration` (a parked pipeline request waiting for a
 * prompt; the content is there) is `ready`, not `pending_content`.
 */
export function toClientStatus(status: string | null | undefined): BatchClientStatus {
  if (status != null && Object.hasOwn(clientStatusByBatchStatus, status)) {
    return clientStatusByBatchStatus[status as BatchStatus];
  }
  return 'pending_content';
}

/** Processing phases of a pipeline (reference.md 1.4). */
export const PhaseName = {
  SPELLCHECK: 'spellcheck',
  AI_FEEDBACK: 'ai_feedback',
  CJ_ASSESSMENT: 'cj_assessment',
  NLP: 'nlp',
  STUDENT_MATCHING: 'student_matching',
} as const;
export type PhaseName = (typeof PhaseName)[keyof typeof PhaseName];

/** The phases a pipeline may run (student matching is part of registration, not of a pipeline). */
export const PIPELINE_PHASES = ['spellcheck', 'nlp', 'cj_assessment', 'ai_feedback'] as const;
/** A phase a pipeline may run. */
export type PipelinePhase = (typeof PIPELINE_PHASES)[number];

/** Per-phase status inside a pipeline run (reference.md 1.4). */
export const PipelineExecutionStatus = {
  REQUESTED_BY_USER: 'requested_by_user',
  PENDING_DEPENDENCIES: 'pending_dependencies',
  DISPATCH_INITIATED: 'dispatch_initiated',
  IN_PROGRESS: 'in_progress',
  COMPLETED_SUCCESSFULLY: 'completed_successfully',
  COMPLETED_WITH_PARTIAL_SUCCESS: 'completed_with_partial_success',
  FAILED: 'failed',
  SKIPPED_DUE_TO_DEPENDENCY_FAILURE: 'skipped_due_to_dependency_failure',
  SKIPPED_BY_USER_CONFIG: 'skipped_by_user_config',
  CANCELLED: 'cancelled',
} as const;
export type PipelineExecutionStatus = (typeof PipelineExecutionStatus)[keyof typeof PipelineExecutionStatus];

/** BOS audit-log phase status (reference.md 1.4, `PhaseStatusEnum`). */
export const PhaseAuditStatus = {
  PENDING: 'pending',
  INITIATED: 'initiated',
  IN_PROGRESS: 'in_progress',
  COMPLETED: 'completed',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
} as const;
export type PhaseAuditStatus = (typeof PhaseAuditStatus)[keyof typeof PhaseAuditStatus];

/** The three outcomes a batch phase can conclude with (ELSBatchPhaseOutcomeV1.phase_status). */
export const PhaseOutcomeStatus = {
  COMPLETED_SUCCESSFULLY: 'completed_successfully',
  COMPLETED_WITH_FAILURES: 'completed_with_failures',
  FAILED_CRITICALLY: 'failed_critically',
} as const;
export type PhaseOutcomeStatus = (typeof PhaseOutcomeStatus)[keyof typeof PhaseOutcomeStatus];

/** Status of one essay-to-student association (reference.md 1.5). */
export const StudentAssociationStatus = {
  PENDING_VALIDATION: 'pending_validation',
  CONFIRMED: 'confirmed',
  REJECTED: 'rejected',
  TIMEOUT_CONFIRMED: 'timeout_confirmed',
  NO_MATCH: 'no_match',
} as const;
export type StudentAssociationStatus = (typeof StudentAssociationStatus)[keyof typeof StudentAssociationStatus];

/** How an association was validated. */
export const AssociationValidationMethod = {
  HUMAN: 'human',
  TIMEOUT: 'timeout',
  AUTO: 'auto',
} as const;
export type AssociationValidationMethod =
  (typeof AssociationValidationMethod)[keyof typeof AssociationValidationMethod];

/** Confidence bands of a suggested association (thresholds documented, reference.md 1.5). */
export const AssociationConfidenceLevel = {
  HIGH: 'high',
  MEDIUM: 'medium',
  LOW: 'low',
  NO_MATCH: 'no_match',
} as const;
export type AssociationConfidenceLevel =
  (typeof AssociationConfidenceLevel)[keyof typeof AssociationConfidenceLevel];

/** Band of a confidence score: > 0.9 high, 0.7 to 0.9 medium, < 0.7 low, none no_match. */
export function confidenceLevel(score: number | null | undefined): AssociationConfidenceLevel {
  if (score == null || !Number.isFinite(score)) return 'no_match';
  if (score > 0.9) return 'high';
  if (score >= 0.7) return 'medium';
  return 'low';
}

/** Course codes with their language and level (reference.md 1.6). */
export const CourseCode = {
  ENG5: 'ENG5',
  ENG6: 'ENG6',
  ENG7: 'ENG7',
  SV1: 'SV1',
  SV2: 'SV2',
  SV3: 'SV3',
} as const;
export type CourseCode = (typeof CourseCode)[keyof typeof CourseCode];

/** Language of a course's essays. */
export const Language = { EN: 'en', SV: 'sv' } as const;
export type Language = (typeof Language)[keyof typeof Language];

/** Name, language and level of every course (reference.md 1.6). */
export const COURSES: Readonly<Record<CourseCode, { name: string; language: Language; level: number }>> = {
  ENG5: { name: 'English 5', language: 'en', level: 5 },
  ENG6: { name: 'English 6', language: 'en', level: 6 },
  ENG7: { name: 'English 7', language: 'en', level: 7 },
  SV1: { name: 'Svenska 1', language: 'sv', level: 1 },
  SV2: { name: 'Svenska 2', language: 'sv', level: 2 },
  SV3: { name: 'Svenska 3', language: 'sv', level: 3 },
};

/** The language commands carry, derived from the course code (`get_course_language`). */
export function courseLanguage(course: CourseCode): Language {
  return COURSES[course].language;
}

/** GUEST (no class) or REGULAR (class_id given at registration). */
export const ClassType = { GUEST: 'GUEST', REGULAR: 'REGULAR' } as const;
export type ClassType = (typeof ClassType)[keyof typeof ClassType];

/** Generic processing status; `completed` means success (SpellcheckPhaseCompletedV1.status). */
export const ProcessingStatus = {
  PENDING: 'pending',
  IN_PROGRESS: 'in_progress',
  COMPLETED: 'completed',
  FAILED: 'failed',
} as const;
export type ProcessingStatus = (typeof ProcessingStatus)[keyof typeof ProcessingStatus];

/** Generic processing stage of thin events. */
export const ProcessingStage = {
  PENDING: 'pending',
  INITIALIZED: 'initialized',
  PROCESSING: 'processing',
  COMPLETED: 'completed',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
} as const;
export type ProcessingStage = (typeof ProcessingStage)[keyof typeof ProcessingStage];

/** CJ assessment's internal batch state (outside our machines; kept for the vocabulary). */
export const CJBatchState = {
  INITIALIZING: 'INITIALIZING',
  GENERATING_PAIRS: 'GENERATING_PAIRS',
  WAITING_CALLBACKS: 'WAITING_CALLBACKS',
  SCORING: 'SCORING',
  COMPLETED: 'COMPLETED',
  FAILED: 'FAILED',
  CANCELLED: 'CANCELLED',
} as const;
export type CJBatchState = (typeof CJBatchState)[keyof typeof CJBatchState];

/** NLP student matcher's match status (>= 0.85 high confidence, >= 0.60 needs review). */
export const MatchStatus = {
  HIGH_CONFIDENCE: 'HIGH_CONFIDENCE',
  NEEDS_REVIEW: 'NEEDS_REVIEW',
  NO_MATCH: 'NO_MATCH',
} as const;
export type MatchStatus = (typeof MatchStatus)[keyof typeof MatchStatus];

/** Values of an `as const` vocabulary as a non-empty tuple (for zod enums and tables). */
export function valuesOf<T extends Record<string, string>>(vocabulary: T): [T[keyof T], ...T[keyof T][]] {
  return Object.values(vocabulary) as [T[keyof T], ...T[keyof T][]];
}
