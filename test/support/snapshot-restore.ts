/**
 * Restores one snapshot fixture (scripts/lib/snapshot-fixtures.ts) with today's code and continues
 * a generated path from it through the engine: the fixture is written as a stored row of its own
 * machine version, the engine reads it (running the machine's migrations), and each later step of
 * a generated path through the restored state is dispatched and must be accepted and persisted in
 * the state the path expects. Any failure is an Error naming the machine, the version and the state.
 */
import type { StateValue } from 'xstate';
import { LifecycleEngine } from '../../adapters/engine/engine.js';
import { defaultMachines } from '../../adapters/engine/registry.js';
import { restoreSnapshot } from '../../adapters/engine/snapshots.js';
import { createMemoryStore } from '../../adapters/memory/store.js';
import type { SnapshotStore } from '../../adapters/store.js';
import type { PathPlan } from '../../adapters/visual/paths.js';
import { canonicalJson } from '../../adapters/visual/replay.js';
import { SAMPLE_CORRELATION_ID, SAMPLE_TIMESTAMP, type ProjectSubject } from '../../adapters/visual/samples.js';
import type { LifecycleMachine } from '../../machines/lifecycle-machine.js';
import { route } from '../../machines/routing.js';
import { snapshotsAlong, type SnapshotFixture } from '../../scripts/lib/snapshot-fixtures.js';

/** What continuing a fixture did. */
export interface Continuation {
  /** The state the restored snapshot is in (after migrations). */
  readonly restored: string;
  /** The generated path continued, or null when no path goes on from the restored state (a final state). */
  readonly path: string | null;
  /** Steps dispatched through the engine. */
  readonly steps: number;
}

type Path = PathPlan['paths'][number];

function failure(fixture: SnapshotFixture, why: string): Error {
  return new Error(`snapshot fixture ${fixture.machine} v${fixture.version} "${fixture.state}" cannot be restored and continued by today's code: ${why}`);
}

/** Generated paths of the fixture's entity through the restored value, with the index of the step that reaches it; the fixture's own path first. */
function candidates(subject: ProjectSubject, plan: PathPlan, fixture: SnapshotFixture, value: StateValue): Array<{ path: Path; at: number }> {
  const wanted = canonicalJson(value);
  const found: Array<{ path: Path; at: number }> = [];
  for (const path of plan.paths) {
    // Only paths of the seed that creates the fixture's entity: their events address it.
    const seed = subject.seeds.find((candidate) => candidate.name === path.seed);
    if (seed === undefined || subject.entityId(seed) !== fixture.entity_id) continue;
    const at = snapshotsAlong(subject, path).findIndex((snapshot, index) => index < path.steps.length && canonicalJson(snapshot.value) === wanted);
    if (at >= 0) found.push({ path, at });
  }
  return found.sort((a, b) => Number(b.path.id === fixture.path) - Number(a.path.id === fixture.path));
}

/** Continues `path` after step `at` on a fresh store holding only the fixture's row; throws at the first refused or unexpected step. */
async function continueOn(subject: ProjectSubject, lifecycle: LifecycleMachine, fixture: SnapshotFixture, path: Path, at: number): Promise<number> {
  const store: SnapshotStore = createMemoryStore();
  await store.commit({
    entities: [{ machine: fixture.machine, entity_id: fixture.entity_id, parent_id: fixture.parent_id, expected_version: 0, machine_version: fixture.version, status: fixture.status, snapshot: fixture.snapshot }],
    audit: [], outbox: [], inbox: [], timersSet: [], timersCancelled: [], timersFired: [],
  });
  let now = Date.parse(SAMPLE_TIMESTAMP);
  const only = (deliveries: ReturnType<typeof route>): ReturnType<typeof route> => deliveries.filter((d) => d.machine === fixture.machine && d.entity_id === fixture.entity_id);
  const engine = new LifecycleEngine({ store, machines: { ...defaultMachines(), [subject.id]: lifecycle }, clock: () => new Date(now), acceptInternalEvents: true, route: (envelope) => only(route(envelope)) });
  for (const [index, step] of path.steps.slice(at).entries()) {
    const action = subject.toAction(step.event);
    let outcome: string | undefined;
    if (action.kind === 'dispatch') {
      outcome = (await engine.dispatch(action.envelope)).deliveries.find((d) => d.entity_id === fixture.entity_id)?.outcome;
    } else {
      // A restored row has no timer rows: arm the one the step fires, then let it fall due.
      const timer = { timer_id: `${fixture.machine}:${fixture.entity_id}:${step.event.type}`, machine: fixture.machine, entity_id: fixture.entity_id, due_at: action.at, event: { type: step.event.type, correlation_id: SAMPLE_CORRELATION_ID } };
      await store.commit({ entities: [], audit: [], outbox: [], inbox: [], timersSet: [timer], timersCancelled: [], timersFired: [] });
      now = Date.parse(action.at);
      outcome = (await engine.fireDueTimers()).flatMap((answer) => answer.deliveries).find((d) => d.entity_id === fixture.entity_id)?.outcome;
    }
    const row = await store.load(fixture.machine, fixture.entity_id);
    if (outcome !== 'accepted') throw new Error(`${path.id} step ${at + index + 1} (${step.event.type}) was ${outcome ?? 'not delivered'}`);
    if (canonicalJson((row?.snapshot as { value?: unknown } | undefined)?.value) !== canonicalJson(step.value)) {
      throw new Error(`${path.id} step ${at + index + 1} (${step.event.type}) left ${canonicalJson((row?.snapshot as { value?: unknown } | undefined)?.value)}, the path expects ${canonicalJson(step.value)}`);
    }
  }
  return path.steps.length - at;
}

/**
 * Restores `fixture` with `lifecycle` (today's machine of `subject`, default its own) and continues
 * a generated path of `plan` from it. Throws an Error naming machine, version and state when the
 * snapshot cannot be restored, or when no path through its state can be continued.
 */
export async function restoreAndContinue(subject: ProjectSubject, plan: PathPlan, fixture: SnapshotFixture, lifecycle: LifecycleMachine = subject.lifecycle): Promise<Continuation> {
  if (fixture.version > lifecycle.version) throw failure(fixture, `it is newer than today's version ${lifecycle.version}`);
  let value: StateValue;
  try {
    const record = { machine: fixture.machine, entity_id: fixture.entity_id, parent_id: fixture.parent_id, machine_version: fixture.version, version: 1, status: fixture.status, snapshot: fixture.snapshot, created_at: SAMPLE_TIMESTAMP, updated_at: SAMPLE_TIMESTAMP };
    value = restoreSnapshot(record, lifecycle).value as StateValue;
  } catch (error) {
    throw failure(fixture, error instanceof Error ? error.message : String(error));
  }
  const paths = candidates(subject, plan, fixture, value);
  if (paths.length === 0) return { restored: canonicalJson(value), path: null, steps: 0 };
  const problems: string[] = [];
  for (const { path, at } of paths) {
    try {
      return { restored: canonicalJson(value), path: path.id, steps: await continueOn(subject, lifecycle, fixture, path, at) };
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
    }
  }
  throw failure(fixture, `no generated path through it continues (${problems.join('; ')})`);
}
