/**
 * Every diagram shows every state and every transition of the graph model, and the README
 * diagrams in docs/diagrams are what the export command writes today.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { batchMachine } from '../../machines/batch/index.js';
import { essayMachine } from '../../machines/essay.js';
import {
  dotLabelLines,
  dotString,
  machineGraph,
  mermaidIds,
  mermaidLabel,
  renderSvg,
  toDot,
  toMermaid,
} from '../../adapters/visual/index.js';
import { PROJECT_ROOT } from '../../scripts/lib/cli.js';
import { docsDiagrams } from '../../scripts/lib/export-cli.js';
import { machinesUnderTest, xmlText } from './support.js';

describe.each(machinesUnderTest())('$name', ({ machine }) => {
  const graph = machineGraph(machine);
  const clusters = new Set(graph.states.filter((state) => state.type === 'compound' || state.type === 'parallel').map((state) => state.id));

  it('Mermaid: every state and every transition label', () => {
    const text = toMermaid(machine);
    expect(text.startsWith('stateDiagram-v2\n')).toBe(true);
    const ids = mermaidIds(graph);
    for (const state of graph.states) {
      const id = ids.get(state.id) ?? '';
      expect(text, state.id).toMatch(new RegExp(`(^|\\s)${id}( |$|\\n)`, 'm'));
      if (state.type === 'final') expect(text).toContain(`${id} --> [*]`);
    }
    for (const transition of graph.transitions) expect(text, transition.id).toContain(mermaidLabel(transition));
    // Nothing Mermaid would read as the end of a label survives inside one.
    for (const line of text.split('\n').filter((item) => item.includes(' : '))) {
      expect(line.slice(line.indexOf(' : ') + 3).replace(/#\d+;/g, ''), line).not.toMatch(/[:;]/);
    }
  });

  it('DOT: every state and every transition label', () => {
    const text = toDot(machine);
    for (const state of graph.states) {
      expect(text, state.id).toContain(clusters.has(state.id) ? dotString(`cluster_${state.id}`) : `${dotString(state.id)} [`);
      if (state.type === 'final') expect(text).toMatch(new RegExp(`${dotString(state.id).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\[shape=doublecircle`));
    }
    for (const transition of graph.transitions) {
      for (const line of dotLabelLines(transition)) expect(text, transition.id).toContain(line.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'));
    }
  });

  it('SVG: every state and every transition label', async () => {
    const svg = await renderSvg(machine);
    expect(svg).toMatch(/^<\?xml|^<svg|<!DOCTYPE svg/);
    for (const state of graph.states) {
      expect(svg, state.id).toContain(`<title>${xmlText(clusters.has(state.id) ? `cluster_${state.id}` : state.id)}</title>`);
    }
    for (const transition of graph.transitions) {
      for (const line of dotLabelLines(transition)) expect(svg, transition.id).toContain(xmlText(line));
    }
  });
});

describe('drawing choices', () => {
  it('draws a transition every non-final top-level state shares once, from "any non-final state"', () => {
    const text = toMermaid(essayMachine);
    expect(text.match(/--> essay_critical_failure : EVT_CRITICAL_FAILURE/g)).toHaveLength(1);
    expect(text).toContain('any_state --> essay_critical_failure');
    const unfolded = toMermaid(essayMachine, { foldShared: false });
    expect(unfolded.match(/--> essay_critical_failure : EVT_CRITICAL_FAILURE/g)?.length).toBe(machineGraph(essayMachine).states.length);
  });

  it('highlights the active states it is given', async () => {
    const plain = await renderSvg(batchMachine);
    const active = await renderSvg(batchMachine, { active: ['processing_pipelines'] });
    expect(plain).not.toContain('#fde68a');
    const node = active.slice(active.indexOf('<title>batch.processing_pipelines</title>'));
    expect(node.slice(0, node.indexOf('</g>'))).toContain('fill="#fde68a"');
  });

  it('renders the same SVG for the same machine', async () => {
    expect(await renderSvg(essayMachine)).toBe(await renderSvg(essayMachine));
  });
});

describe('README diagrams (docs/diagrams)', () => {
  it('are current', async () => {
    for (const file of await docsDiagrams()) {
      let committed: string | undefined;
      try {
        committed = readFileSync(join(PROJECT_ROOT, file.path), 'utf8');
      } catch {
        committed = undefined;
      }
      expect(
        committed === file.content,
        `${file.path} is ${committed === undefined ? 'missing' : 'out of date'}: run \`npm run export -- --docs\` (or \`npx tsx scripts/export.ts --docs\`) and commit docs/diagrams`,
      ).toBe(true);
    }
  });
});
