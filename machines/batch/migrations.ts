/**
 * Snapshot migrations of the batch machine (docs/snapshot-migration.md).
 *
 * Version 2 (retry-phase) records on each essay that failed a phase the later phases of that run
 * it missed (`missed_phases`), which a retry of the phase then runs. Version 1 did not record
 * them; the migration derives them from the run in flight or the last finished run, the runs
 * whose phase order the snapshot still holds: the phases after the failed one in that run. An
 * essay that failed in an older run gets none (a retry then re-runs the failed phase alone).
 */
import type { Json, SnapshotMigration } from '../lifecycle-machine.js';
import type { PipelinePhase } from '../contracts/statuses.js';

interface EssayV1 {
  readonly essay_id: string;
  readonly failed_phase: PipelinePhase | null;
  readonly missed_phases?: readonly PipelinePhase[];
}

interface ContextV1 {
  readonly essays: readonly EssayV1[];
  readonly run: { readonly phases: readonly PipelinePhase[] } | null;
  readonly last_run: { readonly phase_status: Readonly<Record<string, unknown>> } | null;
}

function missedAfter(phase: PipelinePhase, context: ContextV1): readonly PipelinePhase[] {
  const orders: ReadonlyArray<readonly string[]> = [context.run?.phases ?? [], Object.keys(context.last_run?.phase_status ?? {})];
  const order = orders.find((phases) => phases.includes(phase)) ?? [];
  return order.slice(order.indexOf(phase) + 1) as PipelinePhase[];
}

/** Version 1 -> 2: `missed_phases` on every failed essay, from the runs the snapshot holds. */
export const batchMissedPhasesMigration: SnapshotMigration = (persisted) => {
  const snapshot = persisted as unknown as { context: ContextV1 };
  const { context } = snapshot;
  const essays = context.essays.map((essay) => {
    if (essay.failed_phase === null || essay.missed_phases !== undefined) return essay;
    const missed = missedAfter(essay.failed_phase, context);
    return missed.length === 0 ? essay : { ...essay, missed_phases: missed };
  });
  return { ...snapshot, context: { ...context, essays } } as unknown as Json;
};
