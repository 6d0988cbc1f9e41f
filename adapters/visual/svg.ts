/**
 * SVG of a machine, rendered locally by Graphviz compiled to WebAssembly (@viz-js/viz):
 * nothing is fetched at run time. The same machine and options always give the same SVG
 * (for one @viz-js/viz version).
 */
import type { Viz } from '@viz-js/viz';
import type { AnyStateMachine } from 'xstate';
import { toDot, type DotOptions } from './dot.js';

let viz: Promise<Viz> | undefined;

/** The shared Graphviz instance (loaded on first use: @viz-js/viz is needed only for SVG). */
function graphviz(): Promise<Viz> {
  viz ??= import('@viz-js/viz').then((module) => module.instance());
  return viz;
}

/** Renders DOT text to SVG. Throws when Graphviz reports an error. */
export async function renderDotToSvg(dot: string): Promise<string> {
  return (await graphviz()).renderString(dot, { format: 'svg' });
}

/**
 * Renders `machine` to SVG (see {@link toDot} for what it shows); `options.active`
 * highlights the given states, e.g. `renderSvg(machine, { active: ['processing_pipelines'] })`.
 */
export async function renderSvg(machine: AnyStateMachine, options: DotOptions = {}): Promise<string> {
  return renderDotToSvg(toDot(machine, options));
}
