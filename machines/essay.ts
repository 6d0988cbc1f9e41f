/**
 * The essay machine: one actor per essay_id, every EssayStatus a state, transitions exactly
 * the table of essay-table.ts. Pure: its only effects are emitted messages to the ELS tracker
 * (phase results, critical failures).
 */
import { assign, enqueueActions, setup } from 'xstate';
import type { EventMeta } from './contracts/envelope.js';
import type { EventData } from './contracts/events.js';
import type { EssayTrigger } from './contracts/events-internal.js';
import { machineEventTypes, type MachineEventOf } from './contracts/event-tables.js';
import { outbound, SourceService, type OutboundMessage } from './contracts/messages.js';
import type { EssayStatus, PipelinePhase } from './contracts/statuses.js';
import { ESSAY_TRANSITIONS, phaseOfTrigger, sourcesOf, stepOfTrigger, type EssayTransitionRow } from './essay-table.js';
import type { LifecycleMachine } from './lifecycle-machine.js';
import { ESSAY_INVARIANTS } from './invariants/essay.js';

/** Bumped when a persisted essay snapshot changes meaning. */
export const ESSAY_MACHINE_VERSION = 1;

/** What an essay knows about itself. */
export interface EssayContext {
  readonly essay_id: string;
  readonly batch_id: string;
  readonly slot_index: number;
  /** The newest text of the essay (spellcheck's corrected text once it ran). */
  readonly text_storage_id: string | null;
  readonly file_upload_id: string | null;
  readonly original_file_name: string | null;
  /** The pipeline run and phase the essay was last commanded into. */
  readonly run_id: number | null;
  readonly phase: PipelinePhase | null;
  /** Every phase the essay was commanded into, in order (the reference's `commanded_phases`). */
  readonly commanded_phases: readonly PipelinePhase[];
  /** Why the essay failed (content validation code, phase failure reason, critical failure). */
  readonly failure: string | null;
}

/** Created from the tracker's EssaySlotCreatedV1. */
export interface EssayInput {
  readonly data: EventData<'EssaySlotCreatedV1'>;
  readonly meta: EventMeta;
}

/** Every event the essay machine takes (derived from the event declarations that target essays). */
export type EssayEvent = MachineEventOf<'essay'>;

/** An essay event that asks for one of the trigger transitions (EssayTransitionRequestedV1). */
export type EssayTriggerEvent = Extract<EssayEvent, { type: EssayTrigger }>;

/** Every event type of the essay machine. */
export const ESSAY_EVENT_TYPES = machineEventTypes('essay');

/** What the essay machine emits. */
export type EssayEmitted = OutboundMessage<'huleedu.els.essay.phase.result.v1' | 'huleedu.els.essay.critical.failure.v1'>;

const essaySetup = setup({
  types: {
    context: {} as EssayContext,
    events: {} as EssayEvent,
    input: {} as EssayInput,
    emitted: {} as EssayEmitted,
  },
  actions: {
    assignContent: assign(({ event }) => {
      if (event.type !== 'SLOT_ASSIGNED') return {};
      return {
        text_storage_id: event.data.text_storage_id,
        file_upload_id: event.data.file_upload_id,
        original_file_name: event.data.original_file_name,
      };
    }),
    recordContentFailure: assign(({ event }) => {
      if (event.type !== 'CONTENT_FAILED') return {};
      return {
        file_upload_id: event.data.file_upload_id,
        original_file_name: event.data.original_file_name,
        failure: event.data.validation_error_code,
      };
    }),
    recordPhaseCommand: assign(({ context, event }) => {
      const phase = phaseOfTrigger(event.type) ?? null;
      if (!('trigger' in event.data)) return {};
      return {
        run_id: event.data.run_id ?? null,
        phase,
        text_storage_id: event.data.text_storage_id ?? context.text_storage_id,
        commanded_phases: phase === null ? context.commanded_phases : [...context.commanded_phases, phase],
        // A retry leaves `<phase>_failed`: the failure it retries is no longer the essay's.
        failure: null,
      };
    }),
    recordPhaseSuccess: assign(({ context, event }) => {
      if (!('trigger' in event.data)) return {};
      return { text_storage_id: event.data.text_storage_id ?? context.text_storage_id };
    }),
    recordPhaseFailure: assign(({ event }) => {
      if (!('trigger' in event.data)) return {};
      return { failure: event.data.reason ?? `${event.type.toLowerCase()}` };
    }),
    emitPhaseResult: enqueueActions(({ context, event, enqueue }) => {
      const phase = phaseOfTrigger(event.type);
      if (phase === undefined || context.run_id === null || context.phase !== phase) return;
      const textId = ('trigger' in event.data ? event.data.text_storage_id : undefined) ?? context.text_storage_id;
      enqueue.emit(
        outbound('huleedu.els.essay.phase.result.v1', event.meta, SourceService.ESSAY, {
          batch_id: context.batch_id,
          essay_id: context.essay_id,
          run_id: context.run_id,
          phase_name: phase,
          succeeded: stepOfTrigger(event.type) === 'succeeded',
          text_storage_id: textId ?? context.essay_id,
        }),
      );
    }),
    emitCriticalFailure: enqueueActions(({ context, event, enqueue }) => {
      const reason = 'trigger' in event.data ? event.data.reason : undefined;
      enqueue.assign({ failure: reason ?? 'critical_failure' });
      enqueue.emit(
        outbound('huleedu.els.essay.critical.failure.v1', event.meta, SourceService.ESSAY, {
          batch_id: context.batch_id,
          essay_id: context.essay_id,
          ...(reason === undefined ? {} : { reason }),
        }),
      );
    }),
  },
});

/** Names of the essay machine's actions. */
/** The actions of the essay machine's generated transitions. */
export type EssayAction = 'assignContent' | 'recordContentFailure' | 'recordPhaseCommand' | 'recordPhaseSuccess' | 'recordPhaseFailure' | 'emitPhaseResult' | 'emitCriticalFailure';

function actionsOf(row: EssayTransitionRow): EssayAction[] {
  if (row.event === 'SLOT_ASSIGNED') return ['assignContent'];
  if (row.event === 'CONTENT_FAILED') return ['recordContentFailure'];
  if (row.event === 'EVT_CRITICAL_FAILURE') return ['emitCriticalFailure'];
  switch (stepOfTrigger(row.event)) {
    case 'initiate':
      return ['recordPhaseCommand'];
    case 'succeeded':
      return ['recordPhaseSuccess', 'emitPhaseResult'];
    case 'failed':
      return ['recordPhaseFailure', 'emitPhaseResult'];
    default:
      return [];
  }
}

/** One state of the essay machine's generated config: its transitions by event type. */
export type EssayStateConfig = { on: Record<string, { target: EssayStatus; actions: EssayAction[] }> };

function buildEssayStates(): Record<EssayStatus, EssayStateConfig> {
  const states = {} as Record<EssayStatus, EssayStateConfig>;
  for (const row of ESSAY_TRANSITIONS) {
    for (const source of sourcesOf(row)) {
      const node = (states[source] ??= { on: {} });
      node.on[row.event] = { target: row.to, actions: actionsOf(row) };
    }
  }
  for (const row of ESSAY_TRANSITIONS) states[row.to] ??= { on: {} };
  return states;
}

/** The essay machine (id `essay`). Its state value is always one EssayStatus string. */
export const essayMachine = essaySetup.createMachine({
  id: 'essay',
  initial: 'uploaded',
  context: ({ input }) => ({
    essay_id: input.data.essay_id,
    batch_id: input.data.batch_id,
    slot_index: input.data.slot_index,
    text_storage_id: null,
    file_upload_id: null,
    original_file_name: null,
    run_id: null,
    phase: null,
    commanded_phases: [],
    failure: null,
  }),
  states: buildEssayStates(),
});

/** The essay machine as the engine sees it. */
export const essayLifecycle: LifecycleMachine<typeof essayMachine> = {
  id: 'essay',
  version: ESSAY_MACHINE_VERSION,
  logic: essayMachine,
  batchOf: (snapshot) => snapshot.context.batch_id,
  parentOf: (snapshot) => snapshot.context.batch_id,
  plainContext: true,
  invariants: ESSAY_INVARIANTS,
};
