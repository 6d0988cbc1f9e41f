/**
 * Transition coverage of the library's machines with @xstate/graph, and every generated
 * path replayed through the durable engine on SQLite (status, value and context of the
 * persisted entity equal to the pure machine's after every step).
 */
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../adapters/sqlite/store.js';
import { countSimplePaths, planPaths, type PathPlan } from '../../adapters/visual/index.js';
import { replayOnEngine } from '../../adapters/visual/replay.js';
import { projectSubjects, type ProjectSubject } from '../../adapters/visual/samples.js';
import { batchMachine } from '../../machines/batch/index.js';

/**
 * What no path can reach, by machine. The essay machine declares every EssayStatus of the
 * reference, and no transition enters `text_extracted` or `content_ingesting` (ELS does
 * content ingestion outside the machine), so those states and their one way out are
 * unreachable. Anything else unreachable fails the test by name.
 */
/** States and transitions no path can take, per machine: none for this project's machines. */
const KNOWN_UNREACHABLE: Readonly<Record<string, { states: readonly string[]; transitions: readonly string[] }>> = {};

const planned: Array<{ subject: ProjectSubject; plan: PathPlan }> = projectSubjects().map((subject) => ({ subject, plan: planPaths(subject) }));

describe.each(planned)('$subject.id: transition coverage', ({ subject, plan }) => {
  const known = KNOWN_UNREACHABLE[subject.id] ?? { states: [], transitions: [] };

  it('reaches every state and takes every transition (except the known unreachable ones)', () => {
    expect(plan.coverage.states.missing, `unreachable states of ${subject.id}`).toEqual(known.states);
    expect(plan.coverage.transitions.missingIds, `transitions of ${subject.id} no path takes: ${plan.coverage.transitions.missing.join('; ')}`).toEqual(
      known.transitions,
    );
    expect(plan.coverage.states.reached).toBe(plan.coverage.states.total - known.states.length);
    expect(plan.coverage.transitions.taken).toBe(plan.coverage.transitions.total - known.transitions.length);
  });

  it('keeps in its paths everything the exploration reached', () => {
    expect(plan.coverage).toEqual(plan.explored);
  });

  it('never puts a refused step on a path, and every step takes a transition', () => {
    for (const path of plan.paths) for (const step of path.steps) expect(step.transitions.length, `${path.id} ${step.event.type}`).toBeGreaterThan(0);
  });
});

describe('path generation', () => {
  it('is deterministic', () => {
    for (const { subject, plan } of planned.filter((entry) => entry.subject.id !== 'batch_tracker')) {
      expect(JSON.stringify(planPaths(subject).paths)).toBe(JSON.stringify(plan.paths));
    }
  });

  it('shows that the default batch machine (admits every pipeline) cannot deny a pipeline or a retry', () => {
    const batch = planned.find((entry) => entry.subject.id === 'batch')?.subject;
    if (batch === undefined) throw new Error('no batch subject');
    const plan = planPaths({ ...batch, machine: batchMachine, snapshotsPerKey: 0 });
    expect(plan.coverage.transitions.missingIds).toEqual(['batch.ready_for_pipeline_execution:PIPELINE_REQUESTED:0', 'batch.ready_for_pipeline_execution:PHASE_RETRY_REQUESTED:0']);
  });

  it('counts all simple paths only where the graph is small', () => {
    const associations = planned.find((entry) => entry.subject.id === 'associations')?.subject;
    const essay = planned.find((entry) => entry.subject.id === 'essay')?.subject;
    if (associations === undefined || essay === undefined) throw new Error('subjects missing');
    expect(countSimplePaths(associations)?.paths).toBe(3);
    expect(countSimplePaths(essay, 10)).toBeNull();
  });
});

describe.each(planned)('$subject.id: generated paths through the engine on SQLite', ({ subject, plan }) => {
  it.each(plan.paths.map((path) => [`${path.id}: ${path.steps.map((step) => step.event.type).join(' > ')}`, path] as const))(
    '%s',
    async (_title, path) => {
      const store = openSqliteStore({ path: ':memory:' });
      try {
        const report = await replayOnEngine(subject, path, { store });
        const seed = subject.seeds.find((candidate) => candidate.name === path.seed) ?? { name: path.seed };
        expect(report.statuses.length).toBe(path.steps.length + (subject.create(seed) === undefined ? 0 : 1));
      } finally {
        await store.close();
      }
    },
  );
});

describe.each(planned)('$subject.id: generated paths with every machine of the engine reacting', ({ subject, plan }) => {
  it('replays every path to the same statuses and contexts', async () => {
    for (const path of plan.paths) {
      const store = openSqliteStore({ path: ':memory:' });
      try {
        await replayOnEngine(subject, path, { store, isolate: false });
      } finally {
        await store.close();
      }
    }
  });
});
