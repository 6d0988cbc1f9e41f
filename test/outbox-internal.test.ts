/**
 * EngineOptions.outboxInternal (issue #20): a message the engine applies to its own machines in the
 * same transaction is stored once, in the audit log (default), unless the engine is asked to write
 * it to the outbox too (for observers on the broker). Messages for outside services, including those
 * a machine also takes (declared `alsoOutside`), reach the outbox either way: nothing is lost.
 */
import { describe, expect, it } from 'vitest';
import { LifecycleEngine } from '../adapters/engine/engine.js';
import { openSqliteStore } from '../adapters/sqlite/store.js';
import { LifecycleEvents } from '../machines/contracts/events.js';
import { content, envelope, pipelineRequest, registration } from './support/envelopes.js';

const cancel = (batchId: string) => envelope('huleedu.batch.cancel.requested.v1', { batch_id: batchId, user_id: 'teacher-1' });

const alsoOutside = new Set<string>(Object.values(LifecycleEvents).filter((definition) => definition.alsoOutside).map((definition) => definition.topic));

const EVENTS = [registration('oi-1', ['oi-1-e1', 'oi-1-e2'], { student_prompt_ref: 'p' }), content('oi-1', 't1'), content('oi-1', 't2'), pipelineRequest('oi-1', 'nlp'), cancel('oi-1')];
const NOW = new Date('2026-03-04T05:06:07.000Z');

async function run(outboxInternal: boolean | undefined) {
  const store = openSqliteStore({ path: ':memory:', now: () => NOW });
  const engine = new LifecycleEngine({ store, clock: () => NOW, ...(outboxInternal === undefined ? {} : { outboxInternal }) });
  for (const raw of EVENTS) expect((await engine.dispatch(raw)).outcome).toBe('accepted');
  const outbox = await store.pendingOutbox(1000);
  const audit = await store.auditSince(0, 1000);
  await store.close();
  return {
    outbox,
    internalTypes: [...new Set(outbox.filter((row) => row.internal).map((row) => row.event_type))].sort(),
    externalTypes: outbox.filter((row) => !row.internal).map((row) => row.event_type),
    applied: new Set(audit.filter((row) => row.causation_id !== null).map((row) => row.event_id)),
    audit,
  };
}

describe('outboxInternal', () => {
  it('by default a message applied inside is in the audit log only; outside messages, those also for outside services, and the audit are as with true', async () => {
    const stored = await run(undefined);
    const copied = await run(true);
    expect(stored.internalTypes).toEqual(['huleedu.batch.closed.v1', 'huleedu.batch.phase.cancel.command.v1', 'huleedu.els.essay.slot.assigned.v1']);
    expect(stored.internalTypes.every((type) => alsoOutside.has(type))).toBe(true);
    expect(copied.internalTypes.length).toBeGreaterThan(stored.internalTypes.length + 3);
    expect(stored.externalTypes).toEqual(copied.externalTypes);
    expect(stored.externalTypes).toContain('huleedu.essay.spellcheck.requested.v1');
    expect(stored.audit).toEqual(copied.audit);
    // Nothing is lost: every message the copying engine wrote is in the outbox or the audit log of the default one.
    const kept = new Set(stored.outbox.map((row) => row.event_id));
    expect(copied.outbox.filter((row) => !kept.has(row.event_id) && !stored.applied.has(row.event_id))).toEqual([]);
  });
});
