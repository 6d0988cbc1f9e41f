/**
 * The archive blob (adapters/sqlite/archive-codec.ts): each chunk comes back exactly as written,
 * whatever its text holds (UUIDs, the `~` the UUID table uses, unicode), and a blob that is not
 * what was written is ARCHIVE_CORRUPT.
 */
import { randomUUID } from 'node:crypto';
import { brotliCompressSync, crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ARCHIVE_FORMAT, decodeChunk, encodeArchive, type ArchivedChunk, type StoredArchive } from '../adapters/sqlite/archive-codec.js';

const id = randomUUID();
const texts = [`${id}${id}`, `~${id}~`, '~~', '~0~', `~${randomUUID().toUpperCase()}`, 'ü ~ 中 \n "quoted"', '', `{"a":"${id}","b":"~"}`];

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

describe('archive codec', () => {
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
