/** Envelopes for benchmarks: unique ids per run and per event, one correlation id per label. */
import { deterministicUuid } from '../../adapters/engine/ids.js';

/** The fixed event timestamp of benchmark events. */
export const BENCH_T0 = '2026-01-01T10:00:00.000Z';

/** A source of benchmark envelopes labelled `label` (ids never repeat across runs or processes). */
export function benchEnvelopes(label: string) {
  const run = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  const correlation_id = deterministicUuid(`${label}-correlation`);
  let sequence = 0;
  return {
    /** This run's tag (also used to name scratch schemas). */
    run,
    /** How many envelopes were made so far. */
    get sequence(): number {
      return sequence;
    },
    envelope: (event_type: string, data: Record<string, unknown>): Record<string, unknown> => {
      sequence += 1;
      return {
        event_id: deterministicUuid(`${label}:${run}:${sequence}`),
        event_type,
        event_timestamp: BENCH_T0,
        source_service: 'bench',
        schema_version: 1,
        correlation_id,
        data,
      };
    },
  };
}

/** An envelope builder, `(event_type, data) => envelope`. */
export type EnvelopeOf = (event_type: string, data: Record<string, unknown>) => Record<string, unknown>;

/** What a bench seed dispatches into: an engine's `dispatchMany`. */
interface Seedable {
  dispatchMany(raws: readonly unknown[]): Promise<ReadonlyArray<{ readonly outcome: string }>>;
}

/** Registration and content of `count` one-essay GUEST batches (`batchId(b)`), which leaves each ready for pipelines. */
export function readyBatchEvents(envelope: EnvelopeOf, batchId: (b: number) => string, count: number): Record<string, unknown>[] {
  const events: Record<string, unknown>[] = [];
  for (let b = 0; b < count; b += 1) {
    events.push(envelope('huleedu.batch.essays.registered.v1', { entity_id: batchId(b), expected_essay_count: 1, essay_ids: [`${batchId(b)}-essay`], course_code: 'ENG5', user_id: 'bench' }));
    events.push(
      envelope('huleedu.file.essay.content.provisioned.v1', {
        entity_id: batchId(b),
        file_upload_id: `upload-${b}`,
        original_file_name: `essay-${b}.txt`,
        raw_file_storage_id: `raw-${b}`,
        text_storage_id: `text-${b}`,
        file_size_bytes: 100,
      }),
    );
  }
  return events;
}

/** Dispatches `readyBatchEvents`; throws naming the first item that was not accepted. */
export async function seedReadyBatches(engine: Seedable, envelope: EnvelopeOf, batchId: (b: number) => string, count: number): Promise<void> {
  const results = await engine.dispatchMany(readyBatchEvents(envelope, batchId, count));
  const bad = results.find((r) => r.outcome !== 'accepted');
  if (bad !== undefined) throw new Error(`bench seed failed: ${JSON.stringify(bad)}`);
}
