/**
 * Runs property-test commands against an engine and checks, after every step, what must always
 * hold: every invariant over the whole store, nothing accepted lost, no effect duplicated; at the
 * end, the persisted state equals a replay of the accepted events alone on a fresh engine.
 */
import { defaultMachines, LifecycleEngine } from '../../adapters/engine/index.js';
import { isLifecycleError } from '../../adapters/errors.js';
import { createMemoryStore } from '../../adapters/memory/index.js';
import type { SnapshotStore } from '../../adapters/store.js';
import { storeViolations } from '../support/invariant-worlds.js';
import type { Command } from './commands.js';

const START = Date.parse('2026-01-01T08:00:00.000Z');

/** The runs of the property suites: PROPERTY_RUNS, else `fallback`. */
export function propertyRuns(fallback: number): number {
  const value = Number(process.env.PROPERTY_RUNS);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

/**
 * An engine on a fresh memory store with a clock the commands move. `acceptInternalEvents`: for a
 * fixture whose commands play a sibling machine (an internal event sent directly).
 */
export function testBed(acceptInternalEvents = false): { store: SnapshotStore; engine: LifecycleEngine; advance: (ms: number) => void } {
  let now = START;
  const store = createMemoryStore({ now: () => new Date(now) });
  const engine = new LifecycleEngine({ store, clock: () => new Date(now), invariants: 'refuse', acceptInternalEvents });
  return { store, engine, advance: (ms) => (now += ms) };
}

/** Entities as comparable rows (status, version and snapshot of each). */
export async function entityRows(store: SnapshotStore): Promise<string[]> {
  const rows: string[] = [];
  for (const machine of Object.keys(defaultMachines())) {
    for (const record of await store.list({ machine, limit: 1000 })) rows.push(`${machine}/${record.entity_id} v${record.version} ${record.status} ${JSON.stringify(record.snapshot)}`);
  }
  return rows.sort();
}

/** Applies one command; answers whether it changed the store (an accepted or refused first delivery, a fired timer). */
async function apply(bed: ReturnType<typeof testBed>, command: Command): Promise<{ took: boolean; eventId?: string }> {
  if (command.kind === 'advance') {
    bed.advance(command.ms);
    return { took: (await bed.engine.fireDueTimers()).length > 0 };
  }
  try {
    const answer = await bed.engine.dispatch(command.envelope);
    return answer.outcome === 'duplicate' ? { took: false } : { took: true, eventId: answer.event_id };
  } catch (error) {
    if (isLifecycleError(error, 'INVALID_ENVELOPE', 'UNKNOWN_EVENT_TYPE', 'ENTITY_NOT_FOUND')) return { took: false };
    throw error;
  }
}

/** Fails (throws) at the first step after which something that must hold does not. */
export async function checkScenario(commands: readonly Command[], acceptInternalEvents = false): Promise<void> {
  const bed = testBed(acceptInternalEvents);
  const taken: Command[] = [];
  const accepted: string[] = [];
  for (const [index, command] of commands.entries()) {
    const { took, eventId } = await apply(bed, command);
    if (took || command.kind === 'advance') taken.push(command);
    if (eventId !== undefined) accepted.push(eventId);
    const violations = await storeViolations(bed.store, defaultMachines());
    if (violations.length > 0) throw new Error(`step ${index}: ${JSON.stringify(violations)}`);
    const inbox = await bed.store.findInbox(accepted);
    const lost = accepted.filter((id) => !inbox.has(id));
    if (lost.length > 0) throw new Error(`step ${index}: accepted events lost: ${lost.join(', ')}`);
  }
  const outbox = await bed.store.pendingOutbox(1000);
  const ids = outbox.map((row) => row.event_id);
  if (new Set(ids).size !== ids.length) throw new Error('an outbox message was written twice');
  const replay = testBed(acceptInternalEvents);
  for (const command of taken) await apply(replay, command);
  const [actual, expected] = [await entityRows(bed.store), await entityRows(replay.store)];
  if (JSON.stringify(actual) !== JSON.stringify(expected)) throw new Error('the persisted state differs from a replay of the accepted events');
}
