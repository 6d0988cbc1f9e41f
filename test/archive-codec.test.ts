/**
 * The archive blob (adapters/sqlite/archive-codec.ts): each chunk comes back exactly as written,
 * whatever its text holds (UUIDs, the `~` the UUID table uses, unicode), and a blob that is not
 * what was written is ARCHIVE_CORRUPT.
 */
import { randomUUID } from 'node:crypto';
import { brotliCompressSync, crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ARCHIVE_FORMAT, decodeChunk, encodeArchive, openArchive, parseLayout, type ArchivedChunk, type StoredArchive } from '../adapters/sqlite/archive-codec.js';

const id = randomUUID();
/** Texts a chunk must give back; the last two hold a UUID pattern that starts inside a JSON escape (`\f`, `\u001f`). */
const texts = [`${id}${id}`, `~${id}~`, '~~', '~0~', `~${randomUUID().toUpperCase()}`, 'ü ~ 中 \n "quoted"', '', `{"a":"${id}","b":"~"}`, `\f${id.slice(1)}`, `\u001f${id.slice(1)}`];

function chunkWith(text: string, index: number): ArchivedChunk {
  return {
    entities: [{ machine: 'essay', entity_id: text, parent_id: null, machine_version: 1, version: index + 1, status: 's', snapshot: text, created_at: 't', updated_at: 't', parts: 0 }],
    entity_parts: [{ machine: 'essay', entity_id: text, part_id: `${text}-p`, items: text }],
    audit: [5, 9, 1000].map((position) => ({
      position, event_id: id, event_type: 'x', correlation_id: text, causation_id: null, machine: 'essay', entity_id: text, from_status: null,
      to_status: 's', outcome: 'accepted', reason: text, entity_version: 1, envelope: text, recorded_at: 't', result: null, machine_version: 1, envelope_of: null,
    })),
    holders: [[3, text]],
  };
}

/**
 * An archive written by the format version 1 encoder (before an entity's audit rows could continue
 * in later chunks), kept as written: two chunks, a row of the second keeping its envelope on a row
 * of the first (a holder copy), UUIDs in every column.
 */
const V1 = {
  format: 'chunks-columns-json-uuids-brotli/1',
  checksum: 3961288477,
  layout: '{"table":59,"chunks":[[219,3,7],[184,8,8]]}',
  blob:
    'oTACACCvzVInG3hUMOXdAm9FJFIo+IEONZfkjuP7PjPVm0OSixoHFmBcl7Sm4dp54rm2FCcF+htr+AGhGA4AIL79dMo/nXJJyzYa1TEWKew/dV' +
    'N/gDyYjtXYtgaVZWFPXcIBJhYtdSfuSST8Z/zpF8WojTbFHVfPQ3G/J28EVD0pbkqODNeWoPsvfH00uY+rD8PGB/nQMBgff6udplGCgHAueUdz' +
    'siqWN0faXZwhyZYz49yhvW42bEArJnFe7L04M6LDMo1b39OCdQFyQGABIW6tqzvob6sky4pZi7zpre1EJSRe8Avy5N/6whub7aPFYrHcmK8T2J' +
    '1kF6SWlyZTlztdt6LYZBqcP8d1vLSopz4vVoemwR+hEAoAIBrNqXx0iY2eeirTdUCWO21ZgN7auj09vGQVJ29h9Jhh4GmW7owejruo/W0/H9QL' +
    '9dTXJxLOUZ9n/oLUOGpno1jZvnAq/nzCR6CvBBKBv/UX0ATI2l/ghzLk3ZZSm6Ne6ZYfNEukliapIb+qnjqIHpa//f9gf6JSl2uaYkkx9SK3Y1' +
    '6W9UZ1dawNvDiWE+iWrVv2zbKS5AyxmK6wjoOOq/7phktRdetU1Qd1djUs1YLJDpY/',
};

/** The chunks V1 holds. */
function v1Chunks(): ArchivedChunk[] {
  const u = ['0b6a3c8e-1f2d-4c5b-9a7e-3d2c1b0a9f8e', '7f1e2d3c-4b5a-4698-8776-5a4b3c2d1e0f'] as const;
  const audit = (position: number, entity: string, envelope: string | null, envelope_of: number | null) => ({
    position, event_id: u[position % 2] ?? null, event_type: 'x', correlation_id: u[0], causation_id: null, machine: 'essay', entity_id: entity, from_status: null,
    to_status: 's', outcome: 'accepted', reason: null, entity_version: 1, envelope, recorded_at: '2026-01-01T00:00:00.000Z', result: '{"ok":true}', machine_version: 1, envelope_of,
  });
  const entity = (id: string) => ({ machine: 'essay', entity_id: id, parent_id: 'b', machine_version: 1, version: 2, status: 's', snapshot: `{"id":"${u[1]}","t":"~"}`, created_at: 't', updated_at: 't', parts: 1 });
  return [
    { entities: [entity('e1')], entity_parts: [{ machine: 'essay', entity_id: 'e1', part_id: 'p', items: '[1]' }], audit: [audit(3, 'e1', `{"e":"${u[0]}"}`, null), audit(7, 'e1', null, 3)], holders: [] },
    { entities: [entity('e2')], entity_parts: [], audit: [audit(8, 'e2', null, 3)], holders: [[3, `{"e":"${u[0]}"}`]] },
  ];
}

describe('archive codec', () => {
  it('still reads an archive of format version 1, chunk by chunk', () => {
    const blob = Buffer.from(V1.blob, 'base64');
    const reader = openArchive({ batchId: 'b', blob, checksum: V1.checksum, format: V1.format, ...parseLayout('b', V1.layout) });
    expect(reader.chunkCount).toBe(2);
    expect([reader.chunk(0), reader.chunk(1)]).toEqual(v1Chunks());
    expect(ARCHIVE_FORMAT).not.toBe(V1.format);
  });

  it('writes a chunk as the very text version 1 wrote: the same chunks encode to the same blob', () => {
    const encoded = encodeArchive(v1Chunks());
    expect(encoded.blob.toString('base64')).toBe(V1.blob);
    expect(encoded.checksum).toBe(V1.checksum);
  });

  it('gives back every chunk exactly, whatever the text holds', () => {
    const chunks = texts.map(chunkWith);
    const encoded = encodeArchive(chunks);
    const stored: StoredArchive = { batchId: 'b', blob: encoded.blob, checksum: encoded.checksum, format: ARCHIVE_FORMAT, places: encoded.places, tableBytes: encoded.tableBytes };
    chunks.forEach((chunk, index) => expect(decodeChunk(stored, index)).toEqual(chunk));
    expect(encoded.places.map((place) => [place.first, place.last])).toEqual(chunks.map(() => [5, 1000]));
  });

  it('a blob that is not what was written is ARCHIVE_CORRUPT naming the batch', () => {
    const encoded = encodeArchive([chunkWith('x', 0)]);
    const good: StoredArchive = { batchId: 'b-1', blob: encoded.blob, checksum: encoded.checksum, format: ARCHIVE_FORMAT, places: encoded.places, tableBytes: encoded.tableBytes };
    const flipped = Buffer.from(encoded.blob);
    flipped[3] = (flipped[3] ?? 0) ^ 0xff;
    const emptyTable = brotliCompressSync(Buffer.from('[]'));
    const notColumns = Buffer.concat([emptyTable, brotliCompressSync(Buffer.from('{"entities":[]}'))]);
    for (const [archive, why] of [
      [{ ...good, format: 'other/1' }, /format "other\/1"/],
      [{ ...good, blob: flipped }, /checksum/],
      [{ ...good, blob: notColumns, checksum: crc32(notColumns), tableBytes: emptyTable.length, places: [{ bytes: notColumns.length - emptyTable.length, first: null, last: null }] }, /entities does not hold its 10 columns/],
      [{ ...good, places: [] }, /no chunk 0/],
    ] as const) {
      expect(() => decodeChunk(archive, 0)).toThrow(expect.objectContaining({ code: 'ARCHIVE_CORRUPT', message: expect.stringMatching(why) }));
      expect(() => decodeChunk(archive, 0)).toThrow(/batch "b-1"/);
    }
  });
});
