/**
 * One example request body per body component of the OpenAPI document: what the API reference
 * page (`/docs`) shows and puts in the try-it editor. Each example is parsed with the zod
 * schema of its component when the document is built, so an example that stopped being valid
 * fails loudly instead of teaching a wrong body.
 *
 * The user ids are the demo server's open principal (`demo-teacher` of `demo-school`): a user
 * principal may only send envelopes in its own name, so try-it works as is on `npm start`.
 */
import type { z } from 'zod';
import { parseEnvelope } from '../../machines/contracts/events.js';
import {
  AttachPromptBody,
  CancelBatchBody,
  RetryPhaseBody,
  CloseBatchBody,
  ConfirmAssociationsBody,
  PipelineRequestBody,
  RegisterBatchBody,
} from './schemas.js';

/** An example body and how to check it. */
interface RequestExample {
  readonly value: unknown;
  /** Throws when `value` is not a valid body. */
  readonly check: (value: unknown) => void;
}

const parsedBy = (schema: z.ZodType) => (value: unknown) => void schema.parse(value);

/** A GUEST batch registered through POST /events (event ids fixed: a second try answers `duplicate`). */
const REGISTRATION_ENVELOPE = {
  event_id: '0b7a1d2e-5c41-4a7e-9a55-3f1c2d8e6b01',
  event_type: 'huleedu.batch.essays.registered.v1',
  event_timestamp: '2026-01-15T09:30:00.000Z',
  source_service: 'api-docs-example',
  correlation_id: '6f0e4c1b-8d2a-4f3e-b7c5-1a9d0e2f4b10',
  data: {
    entity_id: 'docs-example-batch-1',
    expected_essay_count: 2,
    essay_ids: ['docs-example-essay-1', 'docs-example-essay-2'],
    course_code: 'ENG5',
    user_id: 'demo-teacher',
    org_id: 'demo-school',
  },
};

const checkEnvelope = (value: unknown): void => {
  const parsed = parseEnvelope(value);
  if (!parsed.ok) throw new Error(`example envelope is invalid: ${JSON.stringify(parsed.issues)}`);
};

/** Example bodies by component name (the names `OPERATIONS[].body` uses). */
export const REQUEST_EXAMPLES: Readonly<Record<string, RequestExample>> = {
  EventsRequest: { value: REGISTRATION_ENVELOPE, check: checkEnvelope },
  RegisterBatchBody: { value: { expected_essay_count: 3, course_code: 'ENG5' }, check: parsedBy(RegisterBatchBody) },
  PipelineRequestBody: { value: { requested_pipeline: 'nlp' }, check: parsedBy(PipelineRequestBody) },
  ConfirmAssociationsBody: {
    value: { associations: [{ essay_id: 'essay-id-from-the-suggestions', student_id: 'student-id-from-the-suggestions', confirmed: true }] },
    check: parsedBy(ConfirmAssociationsBody),
  },
  AttachPromptBody: { value: { student_prompt_ref: 'prompt-essay-1' }, check: parsedBy(AttachPromptBody) },
  CloseBatchBody: { value: {}, check: parsedBy(CloseBatchBody) },
  CancelBatchBody: { value: { reason: 'uploaded the wrong class' }, check: parsedBy(CancelBatchBody) },
  RetryPhaseBody: { value: { phase_name: 'spellcheck', reason: 'spellcheck service outage 10:00-10:40' }, check: parsedBy(RetryPhaseBody) },
};

/** The example body of a component, checked; undefined when the component has none. */
export function requestExample(component: string): unknown {
  const example = REQUEST_EXAMPLES[component];
  if (example === undefined) return undefined;
  example.check(example.value);
  return example.value;
}
