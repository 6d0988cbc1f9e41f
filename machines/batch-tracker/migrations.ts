/**
 * Snapshot migrations of the batch tracker (docs/snapshot-migration.md).
 *
 * Version 1 kept every per-essay fact in plain arrays and records of the context (slots,
 * slot_by_text, slot_by_failed_upload, each aggregation's pending / processed / failed), so
 * every essay event rewrote all of them. Version 2 keeps them in context parts
 * (machines/context-parts.ts) and compacts concluded and cancelled aggregations to a summary.
 */
import type { Json, SnapshotMigration } from '../lifecycle-machine.js';
import type { PipelinePhase } from '../contracts/statuses.js';
import { partedList, partedMap } from '../context-parts.js';
import { compacted, phaseOutcomeStatus } from './aggregation.js';
import { SLOTS_PART, TEXTS_PART, UPLOADS_PART, type PhaseAggregation, type ProcessedEssay, type Slot } from './types.js';

/** A version-1 aggregation as stored. */
interface AggregationV1 {
  readonly run_id: number;
  readonly phase: PipelinePhase;
  readonly pending: Readonly<Record<string, true>>;
  readonly pending_count: number;
  readonly processed: readonly ProcessedEssay[];
  readonly failed: readonly string[];
  readonly result_received: boolean;
  readonly concluded: boolean;
  readonly cancelled: boolean;
}

/** The version-1 context fields that changed shape. */
interface ContextV1 {
  readonly slots: readonly Slot[];
  readonly slot_by_text: Readonly<Record<string, number>>;
  readonly slot_by_failed_upload: Readonly<Record<string, number>>;
  readonly aggregations: Readonly<Record<string, AggregationV1>>;
}

function migrateAggregation(key: string, old: AggregationV1): PhaseAggregation {
  const pendingIds = Object.keys(old.pending);
  const prefix = `agg/${key}`;
  const open: PhaseAggregation = {
    ...old,
    pending: partedMap(`${prefix}/pending`, pendingIds.map((id) => [id, true as const] as const), pendingIds.length),
    processed: partedList(`${prefix}/processed`, old.processed),
    failed: partedList(`${prefix}/failed`, old.failed),
    summary: null,
  };
  if (old.concluded) {
    return compacted(open, { phase_status: phaseOutcomeStatus(open), processed_count: old.processed.length, failed_count: old.failed.length });
  }
  return old.cancelled ? compacted(open, null) : open;
}

/** Version 1 to 2: per-essay collections into context parts; finished aggregations compacted. */
export const trackerPartsMigration: SnapshotMigration = (persisted) => {
  const snapshot = persisted as { context: ContextV1 & Record<string, Json> } & Record<string, Json>;
  const context = snapshot.context;
  const expected = context.slots.length;
  const aggregations = Object.fromEntries(Object.entries(context.aggregations).map(([key, old]) => [key, migrateAggregation(key, old)]));
  const migrated = {
    ...context,
    slots: partedList(SLOTS_PART, context.slots),
    slot_by_text: partedMap(TEXTS_PART, Object.entries(context.slot_by_text), expected),
    slot_by_failed_upload: partedMap(UPLOADS_PART, Object.entries(context.slot_by_failed_upload), expected),
    aggregations,
  };
  return { ...snapshot, context: migrated as unknown as Json };
};
