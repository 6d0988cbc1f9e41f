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
