/** Invariants every entity of every machine keeps, whatever its machine. */
import { firstProblem, type Invariant } from './world.js';

/** The entity version increases by one per commit that changes it. */
export const versionIncreasesByOne: Invariant = {
  name: 'entity.version_increases_by_one',
  description: 'a commit that changes an entity writes its version + 1 (1 when it creates it)',
  check: (world) =>
    firstProblem(world.entities, (entity) => {
      if (!entity.changed) return undefined;
      const expected = (entity.previous?.version ?? 0) + 1;
      return entity.version === expected ? undefined : `${entity.machine} "${entity.entity_id}" went to version ${entity.version}, expected ${expected}`;
    }),
};

/** A final entity accepts nothing but duplicates. */
export const finalAcceptsNothing: Invariant = {
  name: 'entity.final_accepts_nothing',
  description: 'an entity in a final state is never changed again (a terminal batch accepts nothing but duplicates)',
  check: (world) =>
    firstProblem(world.entities, (entity) =>
      entity.changed && entity.previous?.final === true ? `${entity.machine} "${entity.entity_id}" changed after reaching its final state ${entity.previous.status}` : undefined,
    ),
};

/** The invariants of every entity. */
export const ENTITY_INVARIANTS: readonly Invariant[] = [versionIncreasesByOne, finalAcceptsNothing];
