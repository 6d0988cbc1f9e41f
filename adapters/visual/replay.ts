/**
 * Replays a generated path through the durable engine and checks, after every step, that
 * the persisted entity is exactly what the pure machine computes for the same events: the
 * same status, state value and context. Each machine event is produced the way production
 * produces it (an envelope through routing, or the engine's timer), so the path, the
 * machine and the engine are checked to be one model.
 */
import { initialTransition, transition, type AnyMachineSnapshot, type EventObject, type StateValue } from 'xstate';
import { LifecycleEngine } from '../engine/engine.js';
import { defaultMachines } from '../engine/registry.js';
import type { DeliveryResult, DispatchResult } from '../engine/results.js';
import type { SnapshotStore } from '../store.js';
import { parseEnvelope } from '../../machines/contracts/events.js';
import { statusOfValue } from '../../machines/lifecycle-machine.js';
import { route, type Delivery } from '../../machines/routing.js';
import type { GeneratedPath, PathSeed } from './paths.js';
import { SAMPLE_TIMESTAMP, type EngineAction, type ProjectSubject } from './samples.js';

/** Options of {@link replayOnEngine}. */
export interface EngineReplayOptions {
  /** A fresh, empty store (one per path: event ids repeat across paths). */
  readonly store: SnapshotStore;
  /**
   * Deliver only to the entity under test (default true). Other machines' reactions (the
   * tracker's essays answering it within the same dispatch) would legitimately change the
   * entity beyond what its own path predicts.
   */
  readonly isolate?: boolean;
}

/** What a replay checked. */
export interface EngineReplayReport {
  readonly path: string;
  /** Statuses the engine persisted, one per step (after the creating envelope, if any). */
  readonly statuses: readonly string[];
}

/** JSON with sorted object keys: equal for equal JSON values whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item !== null && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : item,
  );
}

function fail(path: GeneratedPath, step: number, message: string): never {
  throw new Error(`${path.id} step ${step}: ${message}`);
}

/** Checks that routing turns the envelope into exactly `event` for the entity under test. */
function checkInverseRouting(path: GeneratedPath, step: number, subject: ProjectSubject, entityId: string, envelope: Record<string, unknown>, event: EventObject): void {
  const parsed = parseEnvelope(envelope);
  if (!parsed.ok) fail(path, step, `the envelope for ${event.type} is invalid: ${parsed.issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`);
  const delivery = route(parsed.envelope).find((item) => item.machine === subject.id && item.entity_id === entityId);
  if (delivery === undefined) fail(path, step, `${String(envelope.event_type)} is not routed to ${subject.id} "${entityId}"`);
  const expected = event as { type: string; data?: unknown; meta?: unknown };
  const sameData = expected.data === undefined || canonicalJson(delivery.event.data) === canonicalJson(expected.data);
  if (delivery.event.type !== expected.type || !sameData) {
    fail(path, step, `${String(envelope.event_type)} is routed as ${delivery.event.type}, not as the path's ${expected.type} with the same data`);
  }
  if (canonicalJson(delivery.event.meta) !== canonicalJson(expected.meta)) {
    fail(path, step, `${String(envelope.event_type)} is routed with other meta than the path's event`);
  }
}

function deliveryFor(result: DispatchResult, subject: ProjectSubject, entityId: string): DeliveryResult | undefined {
  return result.deliveries.find((delivery) => delivery.machine === subject.id && delivery.entity_id === entityId);
}

async function perform(
  engine: LifecycleEngine,
  action: EngineAction,
  setNow: (iso: string) => void,
  subject: ProjectSubject,
  entityId: string,
): Promise<DeliveryResult | undefined> {
  if (action.kind === 'timer') {
    setNow(action.at);
    const answers = await engine.fireDueTimers();
    return answers.map((answer) => deliveryFor(answer, subject, entityId)).find((delivery) => delivery !== undefined);
  }
  return deliveryFor(await engine.dispatch(action.envelope), subject, entityId);
}

async function checkPersisted(
  store: SnapshotStore,
  subject: ProjectSubject,
  entityId: string,
  expected: AnyMachineSnapshot,
  path: GeneratedPath,
  step: number,
): Promise<string> {
  const record = await store.load(subject.id, entityId);
  if (record === undefined) fail(path, step, `${subject.id} "${entityId}" was not persisted`);
  const status = statusOfValue(expected.value as StateValue);
  if (record.status !== status) fail(path, step, `persisted status "${record.status}", the machine says "${status}"`);
  const persisted = record.snapshot as { value?: unknown; context?: unknown };
  if (canonicalJson(persisted.value) !== canonicalJson(expected.value)) {
    fail(path, step, `persisted value ${canonicalJson(persisted.value)}, the machine says ${canonicalJson(expected.value)}`);
  }
  if (canonicalJson(persisted.context) !== canonicalJson(JSON.parse(JSON.stringify(expected.context)))) {
    fail(path, step, `the persisted context differs from the machine's context`);
  }
  return record.status;
}

/**
 * Replays `path` of `subject` on a new engine over `options.store`, with a clock that
 * starts at the sample timestamp. Throws an Error naming the path and step at the first
 * difference: a refused or missing delivery, an envelope that routing does not turn back
 * into the path's event, or a persisted status, value or context other than the machine's.
 */
export async function replayOnEngine(subject: ProjectSubject, path: GeneratedPath, options: EngineReplayOptions): Promise<EngineReplayReport> {
  const seed: PathSeed | undefined = subject.seeds.find((candidate) => candidate.name === path.seed);
  if (seed === undefined) throw new Error(`${path.id}: unknown seed "${path.seed}"`);
  const entityId = subject.entityId(seed);
  let now = Date.parse(SAMPLE_TIMESTAMP);
  const isolate = options.isolate ?? true;
  const engine = new LifecycleEngine({
    store: options.store,
    machines: { ...defaultMachines(), [subject.id]: subject.lifecycle },
    clock: () => new Date(now),
    // A path drives one machine with what its siblings would send (internal events included).
    acceptInternalEvents: true,
    // Isolated, every step is checked against every invariant and a violation fails the step. With every
    // machine reacting, a path's sample envelopes of internal messages (a provisioning summary, BatchClosedV1)
    // make worlds the real tracker never produces, so violations are only logged then.
    invariants: isolate ? 'refuse' : 'log',
    onInvariantViolation: () => undefined,
    route: isolate
      ? (envelope) => route(envelope).filter((delivery: Delivery) => delivery.machine === subject.id && delivery.entity_id === entityId)
      : route,
  });
  const setNow = (iso: string): void => {
    now = Date.parse(iso);
  };
  const statuses: string[] = [];

  let [snapshot] = initialTransition(subject.machine, seed.input) as [AnyMachineSnapshot, unknown];
  if (canonicalJson(snapshot.value) !== canonicalJson(path.start)) fail(path, 0, `the seed starts in ${canonicalJson(snapshot.value)}, the path in ${canonicalJson(path.start)}`);
  const creation = subject.create(seed);
  if (creation !== undefined) {
    const result = await engine.dispatch(creation);
    const delivery = deliveryFor(result, subject, entityId);
    if (delivery?.outcome !== 'accepted') fail(path, 0, `the creating ${String(creation.event_type)} was not accepted (${delivery?.reason ?? result.outcome})`);
    statuses.push(await checkPersisted(options.store, subject, entityId, snapshot, path, 0));
  }

  for (const [index, step] of path.steps.entries()) {
    const number = index + 1;
    if (!snapshot.can(step.event)) fail(path, number, `the machine refuses ${step.event.type} in ${canonicalJson(snapshot.value)}`);
    [snapshot] = transition(subject.machine, snapshot, step.event) as [AnyMachineSnapshot, unknown];
    if (canonicalJson(snapshot.value) !== canonicalJson(step.value)) {
      fail(path, number, `the machine reaches ${canonicalJson(snapshot.value)}, the path expects ${canonicalJson(step.value)}`);
    }
    const action = subject.toAction(step.event);
    if (action.kind === 'dispatch') checkInverseRouting(path, number, subject, entityId, action.envelope, step.event);
    const delivery = await perform(engine, action, setNow, subject, entityId);
    if (delivery === undefined) fail(path, number, `${step.event.type} reached no ${subject.id} "${entityId}"`);
    if (delivery.outcome !== 'accepted') fail(path, number, `${step.event.type} was ${delivery.outcome}: ${delivery.reason ?? ''}`);
    statuses.push(await checkPersisted(options.store, subject, entityId, snapshot, path, number));
  }
  return { path: path.id, statuses };
}
