/** The engine's derived ids (adapters/engine/ids.ts): UUID version 5 of a name in the engine's namespace, stable across releases. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deterministicUuid, emittedEventId } from '../adapters/engine/ids.js';

/** RFC 9562 UUID version 5, written out plainly: the reference the fast path must equal. */
function uuidV5(namespace: string, name: string): string {
  const digest = createHash('sha1').update(Buffer.from(namespace.replaceAll('-', ''), 'hex')).update(name, 'utf8').digest();
  digest[6] = ((digest[6] as number) & 0x0f) | 0x50;
  digest[8] = ((digest[8] as number) & 0x3f) | 0x80;
  const hex = digest.subarray(0, 16).toString('hex');
  return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join('-');
}

const NAMESPACE = '8d3c4a52-f1a9-4c0e-9b6e-2f5d7a1c3e90';

describe('derived ids', () => {
  it('are UUID v5 of the name in the engine namespace, for short, multi-byte, 1,024-byte-boundary and long names, one after another', () => {
    const names = ['', 'a', 'emit:x:essay:y:0', 'ünïcödé ✓ 𝄞', 'x'.repeat(336), 'é'.repeat(504), 'x'.repeat(1008), 'x'.repeat(1009), 'y'.repeat(5000), 'a'];
    for (const name of names) expect(deterministicUuid(name), name.slice(0, 20)).toBe(uuidV5(NAMESPACE, name));
  });

  it('keep the values earlier releases derived (stored inbox keys and fixtures depend on them)', () => {
    expect(emittedEventId('3f1c2b9e-0d4a-4c55-9a7e-6b2f1e8d9c01', 'essay', 'essay-1', 0)).toBe('e47297f1-740c-5eda-abda-dc124d521504');
    expect(deterministicUuid('timer:t:2026-01-01T00:00:00.000Z')).toBe('9f40fe05-c943-5c17-94ab-e9bc70159c8c');
  });
});
