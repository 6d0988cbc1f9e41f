/** What-if replay of stored histories against changed machines. */
export { whatIf, type MachinePair, type WhatIfOptions, type WhatIfProgress, type WhatIfReport } from './what-if.js';
export { MAX_LISTED, type EntityComparison, type EntityDivergence, type StepDifference, type StepRef, type StepView } from './compare.js';
export { machinesOfModule, isLifecycleMachine } from './module.js';
export type { EntityRef, Selection } from './select.js';
