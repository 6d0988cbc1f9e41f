/** docs/events.md is generated from the declarations; this fails when it no longer matches. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TOPICS } from '../machines/contracts/events.js';
import { renderEventsCatalogue } from '../scripts/lib/events-catalogue.js';

describe('docs/events.md', () => {
  it('equals what the declarations generate (run `npm run docs:events` after changing an event)', () => {
    const onDisk = readFileSync(new URL('../docs/events.md', import.meta.url), 'utf8');
    expect(onDisk === renderEventsCatalogue(), 'docs/events.md is stale: run `npm run docs:events`').toBe(true);
  });

  it('has one section per topic', () => {
    const catalogue = renderEventsCatalogue();
    for (const topic of TOPICS) expect(catalogue).toContain(`### \`${topic}\``);
  });
});
