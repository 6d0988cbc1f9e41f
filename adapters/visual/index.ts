/**
 * Visual models of the machines: the graph model every view is built from, the JSON and
 * source Stately imports, Mermaid, DOT and SVG diagrams (SVG needs @viz-js/viz), and
 * transition-coverage path generation with @xstate/graph, with the library's sample
 * events and the replay of generated paths through the durable engine.
 */
export {
  definitionNotes,
  exportDefinition,
  machineDefinition,
  type CodeValue,
  type DefinitionExport,
  type JsonObject,
} from './definition.js';
export type { JsonLoss } from './json-value.js';
export { bareMachineSource, implementationsFor, machineSource, type MachineImplementations, type MachineSourceOptions } from './source.js';
export { displayName, inlineImplementations, type ImplementationKind } from './names.js';
export {
  describeTransition,
  machineGraph,
  transitionIds,
  transitionLabel,
  type GraphState,
  type GraphStateType,
  type GraphTransition,
  type GraphTransitionKind,
  type MachineGraph,
  type TransitionLabelParts,
} from './graph.js';
export { diagramModel, type DiagramEdge, type DiagramModel, type DiagramOptions } from './diagram.js';
export { mermaidIds, mermaidLabel, mermaidText, toMermaid } from './mermaid.js';
export { anyStateNodeId, dotLabelLines, dotString, toDot, type DotOptions } from './dot.js';
export { renderDotToSvg, renderSvg } from './svg.js';
export {
  countSimplePaths,
  discoverEvents,
  findPaths,
  inStates,
  isComplete,
  planPaths,
  sampleEvents,
  type EventSamples,
  type FindPathsOptions,
  type RecordOptions,
  type Coverage,
  type GeneratedPath,
  type PathPlan,
  type PathSeed,
  type PathStep,
  type PathSubject,
  type PlanOptions,
} from './paths.js';
export {
  envelopeOf,
  projectSubjects,
  SAMPLE_BATCH_OPTIONS,
  SAMPLE_CORRELATION_ID,
  SAMPLE_SOURCE,
  SAMPLE_TIMEOUT_AT,
  SAMPLE_TIMESTAMP,
  USER_WITHOUT_CREDITS,
  type EngineAction,
  type ProjectSubject,
} from './samples.js';
export { machineModuleSubject, replayPath, type PathReplayOptions } from './pure-replay.js';
export {
  realSystemGaps,
  realSystemModelOf,
  testRealSystem,
  testRealSystemPath,
  type RealSystemGaps,
  type RealSystemModel,
  type RealSystemPathOptions,
  type RealSystemReport,
} from './real-system.js';
export { canonicalJson, replayOnEngine, type EngineReplayOptions, type EngineReplayReport } from './replay.js';
