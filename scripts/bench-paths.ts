#!/usr/bin/env node
/**
 * Path-generation cost per machine: transition-coverage paths (what gen-tests writes) and,
 * where the explored graph is small enough, the number of all simple paths for comparison.
 *
 *   tsx scripts/bench-paths.ts
 */
import { pathToFileURL } from 'node:url';
import { countSimplePaths, planPaths } from '../adapters/visual/paths.js';
import { projectSubjects } from '../adapters/visual/samples.js';

/** One machine's figures. */
export interface PathGenerationMeasure {
  readonly machine: string;
  /** Transition-coverage paths generated. */
  readonly paths: number;
  /** Milliseconds to explore and plan them (wall clock, this process). */
  readonly ms: number;
  readonly steps: number;
  readonly vertices: number;
  readonly edges: number;
  /** All simple paths (@xstate/graph getSimplePaths), or null when the graph has more than 200 vertices. */
  readonly simplePaths: number | null;
  readonly simpleMs: number | null;
}

/** Measures path generation for the library's four machines. */
export async function measurePathGeneration(): Promise<PathGenerationMeasure[]> {
  const measures: PathGenerationMeasure[] = [];
  for (const subject of projectSubjects()) {
    const plan = planPaths(subject);
    const simple = countSimplePaths(subject, 200);
    measures.push({
      machine: subject.id,
      paths: plan.paths.length,
      ms: plan.stats.ms,
      steps: plan.stats.steps,
      vertices: plan.stats.vertices,
      edges: plan.stats.edges,
      simplePaths: simple?.paths ?? null,
      simpleMs: simple?.ms ?? null,
    });
    await Promise.resolve();
  }
  return measures;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(`# path generation (node ${process.version})`);
  for (const m of await measurePathGeneration()) {
    const simple = m.simplePaths === null ? 'simple paths: skipped (graph too large)' : `simple paths: ${m.simplePaths} in ${m.simpleMs} ms`;
    console.log(`${m.machine.padEnd(14)} ${String(m.paths).padStart(4)} paths ${String(m.steps).padStart(5)} steps ${String(m.vertices).padStart(6)} vertices ${String(m.edges).padStart(7)} edges ${String(m.ms).padStart(6)} ms   ${simple}`);
  }
}
