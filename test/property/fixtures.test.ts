/**
 * Regression fixtures: every shrunk failure of the property search kept in test/property/fixtures/
 * (lifecycle scenarios, crash runs, two-engine runs) replays with every property holding.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTempDirs } from '../support/reliability-kit.js';
import { FIXTURES, replayFixture, type Fixture } from './fixtures.js';

afterAll(removeTempDirs);

describe('regression fixtures (shrunk failures of the property search)', () => {
  const files = readdirSync(FIXTURES).filter((name) => name.endsWith('.json')).sort();

  it('keeps at least one fixture', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  it.each(files)('%s replays with every property holding', async (file) => {
    const fixture = JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')) as Fixture;
    expect(fixture.found.length).toBeGreaterThan(0);
    expect(fixture.found).not.toMatch(/^TO FILL IN/);
    await replayFixture(fixture);
  }, 120_000);
});
