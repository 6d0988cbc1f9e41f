/** The pure machines of the library and everything they are described by. */
export * from './contracts/index.js';
export * from './lifecycle-machine.js';
export * from './explain.js';
export * from './routing.js';
export * from './batch/index.js';
export * from './essay.js';
export * from './essay-table.js';
export * from './batch-tracker.js';
export * from './associations.js';
export {
  listAt,
  listItems,
  mapGet,
  mapHas,
  mapKeys,
  PART_SIZE,
  type ContextPart,
  type PartedList,
  type PartedMap,
} from './context-parts.js';
export * from './invariants/index.js';
