/**
 * Snapshot fixtures of every release: one persisted snapshot per reachable state of each of the
 * library's machines, found by path generation (adapters/visual), kept under
 * test/fixtures/snapshots/<machine>/v<version>/<state>.json. `npm run fixtures:snapshots` writes
 * the current version's set; `npm test` restores every fixture of every version with today's code
 * (through the machine's `migrations`) and continues one generated path from it through the engine.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initialTransition, transition, type AnyMachineSnapshot, type StateValue } from 'xstate';
import { persistSnapshot } from '../../adapters/engine/snapshots.js';
import type { PathPlan } from '../../adapters/visual/paths.js';
import type { ProjectSubject } from '../../adapters/visual/samples.js';
import { statusOfValue, type Json } from '../../machines/lifecycle-machine.js';
import { PROJECT_ROOT } from './cli.js';

/** Where the fixtures live. */
export const FIXTURES_ROOT = join(PROJECT_ROOT, 'test', 'fixtures', 'snapshots');

/** One stored snapshot of one machine version in one state, and the generated path that reached it. */
export interface SnapshotFixture {
  readonly machine: string;
  /** The machine version that wrote the snapshot. */
  readonly version: number;
  /** The state, as a name (`stateName`): also the file name. */
  readonly state: string;
  readonly status: string;
  readonly value: StateValue;
  readonly entity_id: string;
  readonly parent_id: string | null;
  /** The generated path (id) and step (0 = its start) that reached the state first. */
  readonly path: string;
  readonly step: number;
  /** The snapshot as the engine persists it. */
  readonly snapshot: Json;
}

/** A state value as one name: `ready`, `processing.spellcheck`, parallel regions joined by `+`. */
export function stateName(value: StateValue): string {
  if (typeof value === 'string') return value;
  const parts = Object.entries(value).map(([key, child]) => (child === undefined ? key : `${key}.${stateName(child)}`));
  return parts.length === 1 ? parts[0]! : `(${parts.join('+')})`;
}

function fileNameOf(state: string): string {
  return `${state.replace(/[^A-Za-z0-9_.+()-]/g, '_')}.json`;
}

/** The snapshot after `steps` steps of `path` (0: its start), computed with the pure machine. */
export function snapshotsAlong(subject: ProjectSubject, path: PathPlan['paths'][number]): AnyMachineSnapshot[] {
  const seed = subject.seeds.find((candidate) => candidate.name === path.seed);
  if (seed === undefined) throw new Error(`${path.id}: unknown seed "${path.seed}"`);
  let [snapshot] = initialTransition(subject.machine, seed.input) as [AnyMachineSnapshot, unknown];
  const out = [snapshot];
  for (const step of path.steps) {
    [snapshot] = transition(subject.machine, snapshot, step.event) as [AnyMachineSnapshot, unknown];
    out.push(snapshot);
  }
  return out;
}

/**
 * One fixture per reachable state of `subject`: the first time a generated path reaches it with a
 * step still to go (so the fixture can be continued), else the first time at all (a final state).
 */
export function fixturesOf(subject: ProjectSubject, plan: PathPlan): SnapshotFixture[] {
  const found = new Map<string, { fixture: SnapshotFixture; goesOn: boolean }>();
  for (const path of plan.paths) {
    const seed = subject.seeds.find((candidate) => candidate.name === path.seed)!;
    snapshotsAlong(subject, path).forEach((snapshot, step) => {
      const value = snapshot.value as StateValue;
      const state = stateName(value);
      const goesOn = step < path.steps.length;
      const before = found.get(state);
      if (before !== undefined && (before.goesOn || !goesOn)) return;
      const persisted = JSON.parse(JSON.stringify(persistSnapshot(subject.lifecycle, snapshot))) as Json;
      const parent = subject.lifecycle.parentOf?.(snapshot as never) ?? null;
      const fixture = { machine: subject.id, version: subject.lifecycle.version, state, status: statusOfValue(value), value, entity_id: subject.entityId(seed), parent_id: parent, path: path.id, step, snapshot: persisted };
      found.set(state, { fixture, goesOn });
    });
  }
  return [...found.values()].map((entry) => entry.fixture).sort((a, b) => (a.state < b.state ? -1 : a.state > b.state ? 1 : 0));
}

/** Writes the current version's set of `subject` (replacing that version's folder); returns the files written. */
export function writeFixtures(subject: ProjectSubject, plan: PathPlan, root = FIXTURES_ROOT): string[] {
  const dir = join(root, subject.id, `v${subject.lifecycle.version}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return fixturesOf(subject, plan).map((fixture) => {
    const file = join(dir, fileNameOf(fixture.state));
    writeFileSync(file, `${JSON.stringify(fixture)}\n`);
    return file;
  });
}

/** Every stored fixture of `machine` (all versions), with its file. */
export function readFixtures(machine: string, root = FIXTURES_ROOT): Array<{ file: string; fixture: SnapshotFixture }> {
  const machineDir = join(root, machine);
  let versions: string[];
  try {
    versions = readdirSync(machineDir).filter((name) => /^v\d+$/.test(name));
  } catch {
    return [];
  }
  return versions.flatMap((version) =>
    readdirSync(join(machineDir, version))
      .filter((name) => name.endsWith('.json'))
      .sort()
      .map((name) => {
        const file = join(machineDir, version, name);
        return { file, fixture: JSON.parse(readFileSync(file, 'utf8')) as SnapshotFixture };
      }),
  );
}
