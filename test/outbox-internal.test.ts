/**
 * EngineOptions.outboxInternal (issue #20): messages the engine applies to its own machines in
 * the same transaction are written to the outbox only when asked; their audit rows are written
 * either way, and outside messages always reach the outbox.
 */
import { describe, expect, it } from 'vitest';
import { LifecycleEngine } from '../adapters/engine/engine.js';
import { openSqliteStore } from '../adapters/sqlite/store.js';
import { content, pipelineRequest, registration } from './support/envelopes.js';

async function run(outboxInternal: boolean | undefined) {
  const store = openSqliteStore({ path: ':memory:' });
  const engine = new LifecycleEngine({ store, ...(outboxInternal === undefined ? {} : { outboxInternal }) });
  for (const raw of [registration('oi-1', ['oi-1-e1'], { student_prompt_ref: 'p' }), content('oi-1', 't1'), pipelineRequest('oi-1', 'nlp')]) expect((await engine.dispatch(raw)).outcome).toBe('accepted');
  const outbox = await store.pendingOutbox(1000);
  const audit = await store.auditSince(0, 1000);
  await store.close();
  return {
    internalRows: outbox.filter((row) => row.internal).length,
    externalTypes: outbox.filter((row) => !row.internal).map((row) => row.event_type),
    causedAudit: audit.filter((row) => row.causation_id !== null).length,
  };
}

describe('outboxInternal', () => {
  it('false keeps internal messages out of the outbox and in the audit; outside messages and the audit are the same as by default', async () => {
    const kept = await run(undefined);
    const dropped = await run(false);
    expect(kept.internalRows).toBeGreaterThan(0);
    expect(dropped.internalRows).toBe(0);
    expect(dropped.externalTypes).toEqual(kept.externalTypes);
    expect(dropped.externalTypes).toContain('huleedu.essay.spellcheck.requested.v1');
    expect(dropped.causedAudit).toBe(kept.causedAudit);
    expect(dropped.causedAudit).toBeGreaterThan(0);
  });
});
