/**
 * Commands for the property tests, generated with fast-check: per batch a valid lifecycle
 * (GUEST or REGULAR) whose envelopes are then interleaved across batches, reordered inside a
 * batch, repeated (duplicates: the same event_id; late copies: a new event_id), mixed with
 * malformed envelopes of every registered event type, and with clock advances that fire timers.
 */
import fc from 'fast-check';
import { deterministicUuid } from '../../adapters/engine/ids.js';
import { batchResult, content, envelope, pipelineRequest, registration, spellchecked } from '../support/envelopes.js';
import { suggestions, validated } from '../support/reliability-kit.js';
import { registeredTopics } from './registry.js';

type Raw = Record<string, unknown>;

/** One step: dispatch an envelope (valid or not), or move the clock and fire the due timers. */
export type Command = { readonly kind: 'dispatch'; readonly envelope: Raw } | { readonly kind: 'advance'; readonly ms: number };

/** What one batch does. */
export interface BatchPlan {
  readonly regular: boolean;
  /** Per essay: [content arrives, spellcheck succeeds, NLP suggests a student]. */
  readonly essays: ReadonlyArray<readonly [boolean, boolean, boolean]>;
  /** REGULAR: a person validates (else the 24-hour timeout confirms). */
  readonly human: boolean;
  readonly close: boolean;
}

const DAY_MS = 86_400_000;

/** The envelopes of one batch in a valid order, ids derived from `seed` so a run is repeatable. */
export function batchCommands(plan: BatchPlan, index: number, seed: number): Command[] {
  const batchId = `p${index}`;
  const essays = plan.essays.map((_, i) => `${batchId}-e${i}`);
  const delivered = essays.filter((_, i) => plan.essays[i]![0]);
  const ok = delivered.filter((id) => plan.essays[essays.indexOf(id)]![1]);
  const classId = `class-${batchId}`;
  const raws: Raw[] = [
    registration(batchId, essays, { student_prompt_ref: `prompt-${batchId}`, ...(plan.regular ? { class_id: classId } : {}) }),
    ...delivered.map((id) => content(batchId, `text-${id}`)),
  ];
  const commands: Command[] = [];
  if (plan.regular) {
    const suggested = suggestions(batchId, classId, delivered) as { data: { match_results: Array<{ suggestions: unknown[] }> } };
    suggested.data.match_results.forEach((result, i) => {
      if (!plan.essays[essays.indexOf(delivered[i]!)]![2]) result.suggestions = [];
    });
    raws.push(suggested);
    if (plan.human) raws.push(validated(batchId, delivered.filter((id) => plan.essays[essays.indexOf(id)]![2])));
  }
  const after: Raw[] = [pipelineRequest(batchId, 'nlp'), ...delivered.map((id) => spellchecked(batchId, id, ok.includes(id))), batchResult('nlp', batchId, ok)];
  if (plan.close) after.push(envelope('huleedu.batch.close.requested.v1', { batch_id: batchId, user_id: 'teacher-1' }));
  let step = 0;
  const stamp = (raw: Raw): Command => ({ kind: 'dispatch', envelope: { ...raw, event_id: deterministicUuid(`property:${seed}:${batchId}:${step++}`) } });
  commands.push(...raws.map(stamp));
  if (plan.regular && !plan.human) commands.push({ kind: 'advance', ms: DAY_MS });
  commands.push(...after.map(stamp));
  return commands;
}

const planArbitrary: fc.Arbitrary<BatchPlan> = fc.record({
  regular: fc.boolean(),
  essays: fc.array(fc.tuple(fc.boolean(), fc.boolean(), fc.boolean()), { minLength: 1, maxLength: 3 }),
  human: fc.boolean(),
  close: fc.boolean(),
});

/** A change to the merged stream: where, and what. */
type Perturbation =
  | { readonly kind: 'swap'; readonly at: number }
  | { readonly kind: 'duplicate'; readonly from: number; readonly to: number }
  | { readonly kind: 'late'; readonly from: number; readonly to: number }
  | { readonly kind: 'malformed'; readonly to: number; readonly topic: number; readonly data: unknown }
  | { readonly kind: 'advance'; readonly to: number; readonly ms: number };

const perturbation: fc.Arbitrary<Perturbation> = fc.oneof(
  fc.record({ kind: fc.constant('swap' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), from: fc.nat(), to: fc.nat() }),
  fc.record({ kind: fc.constant('late' as const), from: fc.nat(), to: fc.nat() }),
  fc.record({ kind: fc.constant('malformed' as const), to: fc.nat(), topic: fc.nat(), data: fc.oneof(fc.constant({}), fc.jsonValue()) }),
  fc.record({ kind: fc.constant('advance' as const), to: fc.nat(), ms: fc.constantFrom(1, 60_000, DAY_MS - 1, DAY_MS) }),
);

function merge(streams: readonly Command[][], picks: readonly number[]): Command[] {
  const pending = streams.map((items) => ({ items, at: 0 })).filter((stream) => stream.items.length > 0);
  const out: Command[] = [];
  let pick = 0;
  while (pending.length > 0) {
    const slot = (picks[pick++ % Math.max(1, picks.length)] ?? 0) % pending.length;
    const stream = pending[slot]!;
    out.push(stream.items[stream.at]!);
    stream.at += 1;
    if (stream.at === stream.items.length) pending.splice(slot, 1);
  }
  return out;
}

function perturb(commands: Command[], change: Perturbation, seed: number, n: number): void {
  const at = (i: number): number => i % Math.max(1, commands.length);
  switch (change.kind) {
    case 'swap': {
      const i = at(change.at);
      if (i + 1 < commands.length) [commands[i], commands[i + 1]] = [commands[i + 1]!, commands[i]!];
      return;
    }
    case 'duplicate':
    case 'late': {
      const source = commands[at(change.from)];
      if (source?.kind !== 'dispatch') return;
      const copy = change.kind === 'duplicate' ? source.envelope : { ...source.envelope, event_id: deterministicUuid(`property:${seed}:late:${n}`) };
      commands.splice(at(change.to) + 1, 0, { kind: 'dispatch', envelope: copy });
      return;
    }
    case 'malformed': {
      const topics = registeredTopics();
      const topic = topics[change.topic % topics.length]!;
      commands.splice(at(change.to), 0, { kind: 'dispatch', envelope: { ...envelope(topic, {}), event_id: deterministicUuid(`property:${seed}:bad:${n}`), data: change.data } });
      return;
    }
    case 'advance':
      commands.splice(at(change.to), 0, { kind: 'advance', ms: change.ms });
  }
}

/** A whole scenario: several batches' commands, merged and perturbed. */
export const scenarioArbitrary: fc.Arbitrary<Command[]> = fc
  .record({
    plans: fc.array(planArbitrary, { minLength: 1, maxLength: 3 }),
    picks: fc.array(fc.nat(), { maxLength: 40 }),
    changes: fc.array(perturbation, { maxLength: 8 }),
    seed: fc.nat(),
  })
  .map(({ plans, picks, changes, seed }) => {
    const commands = merge(plans.map((plan, index) => batchCommands(plan, index, seed)), picks);
    changes.forEach((change, n) => perturb(commands, change, seed, n));
    return commands;
  });
