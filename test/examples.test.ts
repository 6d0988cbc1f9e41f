import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../examples/minimal.js';

describe('examples', () => {
  it('the minimal embedding registers a batch and reads it back awaiting content', async () => {
    expect(await main()).toBe('accepted: batch-1 is awaiting_content_validation');
  });

  it('runs as README shows it, on ./data/lifecycle.db in a fresh folder (the data folder is created)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'minimal-example-'));
    try {
      expect(await main(join(dir, 'data', 'lifecycle.db'))).toBe('accepted: batch-1 is awaiting_content_validation');
      expect(existsSync(join(dir, 'data', 'lifecycle.db'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
