/**
 * Snapshot fixtures of every release (test/fixtures/snapshots/<machine>/v<version>/, written by
 * `npm run fixtures:snapshots`): today's code restores every fixture of every version through the
 * machine's migrations and continues a generated path from it through the engine. A machine change
 * that cannot restore an old version fails here, naming the machine, the version and the state.
 */
import { describe, expect, it } from 'vitest';
import { planPaths, type PathPlan } from '../adapters/visual/paths.js';
import { projectSubjects, type ProjectSubject } from '../adapters/visual/samples.js';
import type { LifecycleMachine } from '../machines/lifecycle-machine.js';
import { fixturesOf, readFixtures, stateName } from '../scripts/lib/snapshot-fixtures.js';
import { restoreAndContinue } from './support/snapshot-restore.js';

const subjects = projectSubjects();
const plans = new Map<string, PathPlan>(subjects.map((subject) => [subject.id, planPaths(subject)]));
const planOf = (subject: ProjectSubject): PathPlan => plans.get(subject.id)!;

describe.each(subjects.map((subject) => [subject.id, subject] as const))('snapshot fixtures of %s', (_id, subject) => {
  const stored = readFixtures(subject.id);

  it('the current version has a fixture for every state path generation reaches (run npm run fixtures:snapshots at a release)', () => {
    const current = stored.filter(({ fixture }) => fixture.version === subject.lifecycle.version).map(({ fixture }) => fixture.state);
    expect(current.sort()).toEqual(fixturesOf(subject, planOf(subject)).map((fixture) => fixture.state));
  });

  it.each(stored.map(({ file, fixture }) => [`v${fixture.version} ${fixture.state}`, file, fixture] as const))('%s restores with today\'s code and continues a generated path through the engine', async (_name, _file, fixture) => {
    const continued = await restoreAndContinue(subject, planOf(subject), fixture);
    // Only a final state has no path going on from it.
    if (continued.path === null) expect((fixture.snapshot as { status?: unknown }).status).toBe('done');
    else expect(continued.steps).toBeGreaterThan(0);
  });
});

describe('a machine change that cannot restore an old version fails, naming the machine, the version and the state', () => {
  const essay = subjects.find((subject) => subject.id === 'essay')!;
  const fixture = readFixtures('essay').find((stored) => stored.fixture.state === 'awaiting_spellcheck')?.fixture;

  it('a new version without a migration', async () => {
    const bumped: LifecycleMachine = { ...essay.lifecycle, version: essay.lifecycle.version + 1, migrations: {} };
    await expect(restoreAndContinue(essay, planOf(essay), fixture!, bumped)).rejects.toThrow(
      `snapshot fixture essay v${fixture!.version} "awaiting_spellcheck" cannot be restored and continued by today's code: essay "${fixture!.entity_id}" was written by machine version ${fixture!.version} and no migration from version ${fixture!.version} to ${fixture!.version + 1} is registered`,
    );
  });

  it('a migration that leaves a state the new machine does not have', async () => {
    const renamed: LifecycleMachine = {
      ...essay.lifecycle,
      version: essay.lifecycle.version + 1,
      migrations: { [essay.lifecycle.version]: (persisted) => ({ ...(persisted as Record<string, never>), value: 'spellcheck_queued' }) },
    };
    await expect(restoreAndContinue(essay, planOf(essay), fixture!, renamed)).rejects.toThrow(/^snapshot fixture essay v1 "awaiting_spellcheck" cannot be restored and continued by today's code: essay ".*" has an unreadable snapshot/);
  });

  it('state names of nested and parallel values are stable file names', () => {
    expect(stateName('ready')).toBe('ready');
    expect(stateName({ processing: 'spellcheck' })).toBe('processing.spellcheck');
    expect(stateName({ a: { b: 'c' }, d: 'e' })).toBe('(a.b.c+d.e)');
  });
});
