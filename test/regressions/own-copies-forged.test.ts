/**
 * Review: own-copies.ts answers `duplicate` for a refused internal event whose event id is in the
 * inbox. It does not check that the inbox row is the engine's own copy of THAT internal message: any
 * event id the engine took (a client's registration, whose id the sender knows) makes a forged
 * internal envelope from a queue answer `duplicate` (acked, not dead-lettered) and hands back the
 * first answer of that other event (its deliveries, states and emitted messages).
 */
import { describe, expect, it } from 'vitest';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { isLifecycleError } from '../../adapters/errors.js';
import { openSqliteStore } from '../../adapters/sqlite/store.js';
import { content, registration } from '../support/envelopes.js';

const NOW = new Date('2026-03-04T05:06:07.000Z');
const SLOT_ASSIGNED = 'huleedu.els.essay.slot.assigned.v1';

async function refusalOf(engine: LifecycleEngine, raw: unknown): Promise<unknown> {
  try {
    return await engine.dispatch(raw);
  } catch (error) {
    return isLifecycleError(error) ? error.code : error;
  }
}

describe('regression: copies of the engine own messages', () => {
  it('a forged internal envelope reusing the id of an outside event is refused SENDER_NOT_ALLOWED, not answered duplicate', async () => {
    const store = openSqliteStore({ path: ':memory:', now: () => NOW });
    const engine = new LifecycleEngine({ store, clock: () => NOW });
    const reg = registration('forge-1', ['forge-1-e1']);
    expect((await engine.dispatch(reg)).outcome).toBe('accepted');
    expect((await engine.dispatch(content('forge-1', 't1'))).outcome).toBe('accepted');
    const copy = (await store.pendingOutbox(100)).find((row) => row.event_type === SLOT_ASSIGNED);
    expect(copy).toBeDefined();
    // The genuine copy read back answers duplicate (the designed behaviour).
    const genuine = await engine.dispatch(copy?.envelope);
    expect(genuine.outcome).toBe('duplicate');
    // The same internal envelope carrying the registration's event id (known to whoever sent it).
    const forged = { ...(copy?.envelope as Record<string, unknown>), event_id: reg.event_id };
    const rows = (): unknown => ['entities', 'entity_parts', 'audit', 'inbox', 'outbox', 'timers'].map((table) => store.db.prepare(`SELECT * FROM ${table}`).all());
    const before = rows();
    expect(await refusalOf(engine, forged)).toBe('SENDER_NOT_ALLOWED');
    const [item] = await engine.dispatchMany([forged]);
    expect(item?.outcome).toBe('invalid');
    expect(rows()).toEqual(before);
    await store.close();
  });
});
