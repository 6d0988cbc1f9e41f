/**
 * The registry of every lifecycle event: name -> definition, topic -> definition, and the
 * types derived from it. Adding an event here is the only place its type is written.
 */
import type { z } from 'zod';
import { UntypedEnvelope, type Envelope, type EventDefinition } from './envelope.js';
import * as associations from './events-associations.js';
import * as content from './events-content.js';
import * as internal from './events-internal.js';
import * as pipeline from './events-pipeline.js';
import * as services from './events-services.js';

const { Reason: _reason, ...contentEvents } = content;
const { ESSAY_TRIGGERS: _triggers, ...internalEvents } = internal;

/** Every lifecycle event, by the reference's class name. */
export const LifecycleEvents = {
  ...contentEvents,
  ...associations,
  ...pipeline,
  ...services,
  ...internalEvents,
} as const;

/** Class name of a lifecycle event. */
export type EventName = keyof typeof LifecycleEvents;
/** Topic string (`event_type`) of a lifecycle event. */
export type Topic = (typeof LifecycleEvents)[EventName]['topic'];
/** Payload type of a lifecycle event, inferred from its schema. */
export type EventData<N extends EventName> = z.output<(typeof LifecycleEvents)[N]['data']>;
/** Payload type of the event with this topic. */
export type DataOfTopic<T extends Topic> = {
  [N in EventName]: (typeof LifecycleEvents)[N]['topic'] extends T ? EventData<N> : never;
}[EventName];
/** A parsed envelope of any lifecycle event (discriminated by `event_type`). */
export type LifecycleEnvelope = { [N in EventName]: Envelope<(typeof LifecycleEvents)[N]['topic'], EventData<N>> }[EventName];

const definitionsByTopic = new Map<string, EventDefinition>(
  Object.values(LifecycleEvents).map((definition) => [definition.topic, definition as EventDefinition]),
);

/** Every topic we know, sorted. */
export const TOPICS: readonly Topic[] = [...definitionsByTopic.keys()].sort() as Topic[];

/** The definition for a topic, or undefined for a topic we do not know. */
export function definitionOf(topic: string): EventDefinition | undefined {
  return definitionsByTopic.get(topic);
}

/** One problem found in an envelope: the dotted path of the field and what is wrong with it. */
export interface ContractIssue {
  readonly path: string;
  readonly code: string;
  readonly message: string;
}

/** Result of checking raw input against the contracts. */
export type ParseResult =
  | { readonly ok: true; readonly envelope: LifecycleEnvelope }
  | { readonly ok: false; readonly kind: 'INVALID_ENVELOPE' | 'UNKNOWN_EVENT_TYPE'; readonly issues: readonly ContractIssue[] };

function issuesOf(error: z.ZodError, prefix: readonly PropertyKey[] = []): ContractIssue[] {
  return error.issues.map((issue) => ({
    path: [...prefix, ...issue.path].map(String).join('.') || '(root)',
    code: issue.code,
    message: issue.message,
  }));
}

/**
 * Checks raw input (already JSON-decoded) against the envelope and the schema of its
 * `event_type`. Never throws; every problem names the field it is about.
 */
export function parseEnvelope(raw: unknown): ParseResult {
  const type = typeof raw === 'object' && raw !== null ? (raw as { event_type?: unknown }).event_type : undefined;
  const known = typeof type === 'string' ? definitionOf(type) : undefined;
  if (known !== undefined) {
    // Fast path: one pass over the whole envelope when the event type is known.
    const parsed = known.envelope.safeParse(raw);
    if (parsed.success) return { ok: true, envelope: parsed.data as LifecycleEnvelope };
    return { ok: false, kind: 'INVALID_ENVELOPE', issues: issuesOf(parsed.error) };
  }
  const header = UntypedEnvelope.safeParse(raw);
  if (!header.success) return { ok: false, kind: 'INVALID_ENVELOPE', issues: issuesOf(header.error) };
  return {
    ok: false,
    kind: 'UNKNOWN_EVENT_TYPE',
    issues: [
      {
        path: 'event_type',
        code: 'unknown_event_type',
        message: `unknown event_type "${header.data.event_type.slice(0, 200)}"`,
      },
    ],
  };
}
