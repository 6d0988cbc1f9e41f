import { describe, expect, it } from 'vitest';
import { main } from '../examples/minimal.js';

describe('examples', () => {
  it('the minimal embedding registers a batch and reads it back awaiting content', async () => {
    expect(await main()).toBe('accepted: batch-1 is awaiting_content_validation');
  });
});
