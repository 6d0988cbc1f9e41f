import { initialTransition } from 'xstate';
import { describe, expect, it } from 'vitest';
import { defaultMachines } from '../adapters/engine/registry.js';
import { UnitOfWork } from '../adapters/engine/unit-of-work.js';
import { createMemoryStore } from '../adapters/memory/index.js';

const essay = defaultMachines().essay!;
const meta = { event_id: 'e', event_type: 't', correlation_id: 'c', timestamp: '2026-01-01T00:00:00.000Z', source_service: 's' };
const snapshotOf = (id: string) => initialTransition(essay.logic, { data: { batch_id: 'b', essay_id: id, slot_index: 0 }, meta })[0];

describe('UnitOfWork checkpoints', () => {
  it('rollback undoes entities, inbox, timers and rows written after the checkpoint, and keeps what came before', () => {
    const uow = new UnitOfWork(createMemoryStore());
    uow.put(essay, 'kept', snapshotOf('kept'));
    uow.take({ event_id: 'first', event_type: 't', result: { outcome: 'accepted' } });
    uow.setTimer({ timer_id: 'cancel-me', machine: 'essay', entity_id: 'kept', due_at: '2026-01-02T00:00:00.000Z', event: { type: 'x' } });
    const before = JSON.stringify(uow.toCommitBatch());
    const point = uow.checkpoint();
    uow.put(essay, 'dropped', snapshotOf('dropped'));
    uow.put(essay, 'kept', snapshotOf('kept-changed'));
    uow.take({ event_id: 'second', event_type: 't', result: { outcome: 'accepted' } });
    uow.cancelTimer('cancel-me');
    uow.setTimer({ timer_id: 'new', machine: 'essay', entity_id: 'dropped', due_at: '2026-01-02T00:00:00.000Z', event: { type: 'y' } });
    uow.audit.push({ event_id: 'second', event_type: 't', correlation_id: 'c', causation_id: null, machine: 'essay', entity_id: 'dropped', from_status: null, to_status: 'uploaded', outcome: 'accepted', reason: null, entity_version: null, envelope: {} });
    expect(JSON.stringify(uow.toCommitBatch())).not.toBe(before);
    uow.rollback(point);
    expect(JSON.stringify(uow.toCommitBatch())).toBe(before);
    expect(uow.takenResult('second')).toBeUndefined();
    expect(uow.takenResult('first')).toEqual({ outcome: 'accepted' });
  });
});

describe('UnitOfWork undo journal', () => {
  it('keeps one undo step per changed entity between checkpoints, however often it changes, and still rolls back to the checkpoint', () => {
    const uow = new UnitOfWork(createMemoryStore());
    uow.put(essay, 'a', snapshotOf('a0'));
    const point = uow.checkpoint();
    for (let i = 1; i <= 500; i += 1) uow.put(essay, 'a', snapshotOf(`a${i}`));
    uow.put(essay, 'b', snapshotOf('b'));
    // Two keys changed since the checkpoint: two undo steps, not 501.
    const second = uow.checkpoint();
    expect(second.journal - point.journal).toBe(2);
    const before = JSON.stringify(uow.toCommitBatch());
    uow.put(essay, 'a', snapshotOf('after-second-checkpoint'));
    uow.put(essay, 'a', snapshotOf('again'));
    uow.rollback(second);
    expect(JSON.stringify(uow.toCommitBatch())).toBe(before);
    uow.rollback(point);
    const essays = uow.toCommitBatch().entities.map((write) => (write.snapshot as { context: { essay_id: string } }).context.essay_id);
    expect(essays).toEqual(['a0']);
  });
});
