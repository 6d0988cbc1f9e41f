/**
 * The blob of one archived batch (SQLite schema 9, see archives.ts): every row of the batch's
 * entities, entity parts and audit, exactly as stored, in chunks of entities (each with its parts
 * and audit rows), each chunk kept column by column (one array per column: values of a column look
 * alike, so they compress far better than rows) and compressed with brotli on its own, so a read
 * decompresses one chunk, not the whole batch. Every UUID of every chunk is kept once, in a table
 * at the front of the blob (compressed on its own, shared by the chunks), and referred to by its
 * index (`~<base 36>~`; a `~` of the text is `~~`): an id is repeated in many rows, columns and
 * chunks (event ids, causation ids, emitted lists), and 36 random characters cost more than a
 * short index. The blob's CRC-32 is kept beside it: a blob that does
 * not match it, does not decompress or does not hold the expected columns is ARCHIVE_CORRUPT,
 * never a wrong answer.
 */
import { brotliCompressSync, brotliDecompressSync, constants, crc32 } from 'node:zlib';
import { LifecycleError } from '../errors.js';
import { isRecord } from '../store-support.js';
import { ByteSink } from './byte-sink.js';

/** One stored column value. */
export type ColumnValue = string | number | null;
/** A stored row, by column name. */
export type StoredRow = Record<string, ColumnValue>;

/** The columns archived of each table, in the order they are stored and restored. */
export const ARCHIVED_COLUMNS = {
  entities: ['machine', 'entity_id', 'parent_id', 'machine_version', 'version', 'status', 'snapshot', 'created_at', 'updated_at', 'parts'],
  entity_parts: ['machine', 'entity_id', 'part_id', 'items'],
  audit: [
    'position', 'event_id', 'event_type', 'correlation_id', 'causation_id', 'machine', 'entity_id', 'from_status', 'to_status', 'outcome',
    'reason', 'entity_version', 'envelope', 'recorded_at', 'result', 'machine_version', 'envelope_of',
  ],
} as const;

/** The tables an archive holds. */
export type ArchivedTable = keyof typeof ARCHIVED_COLUMNS;

/** The rows of one batch, by table. */
export type ArchivedRows = Readonly<Record<ArchivedTable, readonly StoredRow[]>>;

/**
 * One chunk of an archive: some of the batch's entities with their parts and audit rows, and the
 * envelopes its rows take from rows of other chunks (`envelope_of`), by position.
 */
export interface ArchivedChunk extends ArchivedRows {
  readonly holders: ReadonlyArray<readonly [number, string]>;
}

/** Where a chunk is in the blob (its compressed bytes, after the chunks before it) and its audit position range. */
export interface ChunkPlace {
  readonly bytes: number;
  readonly first: number | null;
  readonly last: number | null;
}

/**
 * The format name kept with each blob. Version 2 is version 1's blob, but an entity's audit rows
 * may continue in the chunks after the one holding its entity row (`archived_entities` lists each
 * chunk that holds some of them); a version 1 reader would miss those rows, hence the new name.
 */
export const ARCHIVE_FORMAT = 'chunks-columns-json-uuids-brotli/2';

/** The formats a reader reads (a version 1 archive is a version 2 one whose entities each sit in one chunk); it refuses any other. */
export const READABLE_ARCHIVE_FORMATS: readonly string[] = ['chunks-columns-json-uuids-brotli/1', ARCHIVE_FORMAT];

/** What encoding produced. */
export interface EncodedArchive {
  /** The UUID table, then the chunks, each compressed on its own, one after the other. */
  readonly blob: Buffer;
  /** Compressed bytes of the UUID table (first in the blob). */
  readonly tableBytes: number;
  readonly checksum: number;
  readonly places: readonly ChunkPlace[];
  /** Bytes of the text before compression (columns, UUIDs by index). */
  readonly rawBytes: number;
}

/**
 * The largest brotli window (log2 bytes) a chunk is compressed with: 4 MiB. A window costs the
 * encoder about 4 times its size in memory (16 MiB: about 70 MiB; 4 MiB: about 50 MiB), and on
 * closed 10,000-essay nlp batches (chunks of 1,000 essays, about 9 MB of text) a 4 MiB window gave
 * a 1% smaller archive than one as large as the chunk, in half the time (docs/storage-layout.md).
 */
const MAX_WINDOW_BITS = 22;

/**
 * Brotli quality 9, with a window as large as the text up to MAX_WINDOW_BITS. Measured on closed
 * nlp batches with random UUID ids in docs/storage-layout.md (quality 11 is 10% smaller and 30
 * times slower; deflate 3 times larger). Archives written with larger windows (brotli's
 * large-window mode) still read: the decoder allows it.
 */
function brotliOptions(bytes: number) {
  const window = Math.min(MAX_WINDOW_BITS, Math.max(constants.BROTLI_MIN_WINDOW_BITS, Math.ceil(Math.log2(bytes + 1))));
  return {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: 9,
      [constants.BROTLI_PARAM_LGWIN]: window,
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_SIZE_HINT]: bytes,
    },
  };
}

const DECOMPRESS_OPTIONS = { params: { [constants.BROTLI_DECODER_PARAM_LARGE_WINDOW]: 1 } };

/**
 * The text with each UUID replaced by its index in `table` (added when new: first seen first), and
 * `~` doubled. The table is keyed by a UUID's 32 hex digits, a string of its own: a regex match is
 * a slice of the text and would keep the whole chunk's text alive as long as the table.
 */
function withUuidIndexes(text: string, table: Map<string, number>): string {
  return text.replace(/~|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, (match) => {
    if (match === '~') return '~~';
    const hex = match.replaceAll('-', '');
    let index = table.get(hex);
    if (index === undefined) {
      index = table.size;
      table.set(hex, index);
    }
    return `~${index.toString(36)}~`;
  });
}

/** The UUID table as text: the UUIDs (their hex digits, keyed so by `withUuidIndexes`) in index order. */
function tableText(table: Map<string, number>): string {
  return JSON.stringify([...table.keys()]);
}

/** The UUID table back from its text: each UUID's 32 hex digits (flat strings; dashes are put back as a UUID is read). */
function parseTable(text: string): string[] {
  const hex = JSON.parse(text) as unknown;
  if (!Array.isArray(hex) || !hex.every((h) => typeof h === 'string' && /^[0-9a-f]{32}$/.test(h))) throw new Error('its UUID table is not a list of UUIDs');
  return hex as string[];
}

/**
 * The UUIDs of an open archive, by index. Each is made from its hex digits once, on first use, as
 * one flat string that every value naming it shares: a UUID built per occurrence from slices was a
 * tree of nine strings (about 300 bytes) in each restored value that is a UUID, most of a restore's
 * heap growth at 10,000 essays.
 */
class UuidTable {
  private readonly made: Array<string | undefined>;

  constructor(private readonly hex: readonly string[]) {
    this.made = new Array<string | undefined>(hex.length);
  }

  /** The UUID at `index`, or undefined when the table has none there. */
  at(index: number): string | undefined {
    const made = this.made[index];
    if (made !== undefined) return made;
    const hex = this.hex[index];
    if (hex === undefined) return undefined;
    // A regex replacement answers one flat string (a template of slices would answer a tree of them).
    const uuid = hex.replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');
    this.made[index] = uuid;
    return uuid;
  }
}

/** The text `withUuidIndexes` made, back. */
function withUuids(text: string, table: UuidTable): string {
  return text.replace(/~(~|[0-9a-z]+~)/g, (_match, token: string) => {
    if (token === '~') return '~';
    const uuid = table.at(Number.parseInt(token.slice(0, -1), 36));
    if (uuid === undefined) throw new Error(`it refers to UUID ${token.slice(0, -1)}, which its table lacks`);
    return uuid;
  });
}

/** One array per column. Positions are kept as deltas from the previous row (small numbers compress better). */
function toColumns(table: ArchivedTable, rows: readonly StoredRow[]): ColumnValue[][] {
  return ARCHIVED_COLUMNS[table].map((column) => {
    const values = rows.map((row) => row[column] ?? null);
    return column === 'position' ? deltas(values) : values;
  });
}

function deltas(values: readonly ColumnValue[]): ColumnValue[] {
  let previous = 0;
  return values.map((value) => {
    const delta = (value as number) - previous;
    previous = value as number;
    return delta;
  });
}

function undeltas(values: readonly ColumnValue[]): ColumnValue[] {
  let previous = 0;
  return values.map((value) => {
    if (typeof value !== 'number') throw new Error('a position delta is not a number');
    previous += value;
    return previous;
  });
}

/** The audit position range of a chunk's rows (null, null when it has none). */
function positionRange(audit: readonly StoredRow[]): Pick<ChunkPlace, 'first' | 'last'> {
  let first: number | null = null;
  let last: number | null = null;
  for (const row of audit) {
    const position = row.position as number;
    if (first === null || position < first) first = position;
    if (last === null || position > last) last = position;
  }
  return { first, last };
}

/**
 * Compresses the chunks of one batch one at a time, each on its own (a read decompresses only the
 * chunk it needs): a chunk's rows may be dropped once `add` returns, so what is held is the
 * compressed chunks and the UUID table, not the rows.
 */
export class ArchiveEncoder {
  private readonly blobs: Buffer[] = [];
  private readonly places: ChunkPlace[] = [];
  private readonly table = new Map<string, number>();
  private readonly sink = new ByteSink();
  private rawBytes = 0;

  /** Chunks added so far (the index the next one gets). */
  get chunkCount(): number {
    return this.places.length;
  }

  /** Compresses one more chunk, after the ones added before it. */
  add(chunk: ArchivedChunk): ChunkPlace {
    const raw = this.textOf(chunk);
    const compressed = brotliCompressSync(raw, brotliOptions(raw.length));
    this.rawBytes += raw.length;
    this.blobs.push(compressed);
    const place = { bytes: compressed.length, ...positionRange(chunk.audit) };
    this.places.push(place);
    return place;
  }

  /**
   * The chunk's text, `{"entities":[columns],"entity_parts":[...],"audit":[...],"holders":[...]}`
   * (what JSON.stringify gives) with UUIDs by index, written value by value into the reused sink:
   * no string or buffer of the whole text is made, so a chunk leaves little for the collector.
   */
  private textOf(chunk: ArchivedChunk): Buffer {
    const sink = this.sink;
    sink.reset();
    (['entities', 'entity_parts', 'audit'] as const).forEach((table, t) => {
      sink.write(`${t === 0 ? '{' : ','}"${table}":[`);
      toColumns(table, chunk[table]).forEach((column, c) => {
        sink.write(c === 0 ? '[' : ',[');
        column.forEach((value, v) => {
          if (v > 0) sink.write(',');
          sink.write(typeof value === 'string' ? withUuidIndexes(JSON.stringify(value), this.table) : JSON.stringify(value));
        });
        sink.write(']');
      });
      sink.write(']');
    });
    sink.write(`,"holders":${withUuidIndexes(JSON.stringify(chunk.holders), this.table)}}`);
    return sink.bytes();
  }

  /** The blob: the UUID table, then every chunk added, in order. */
  finish(): EncodedArchive {
    const rawTable = Buffer.from(tableText(this.table));
    const compressedTable = brotliCompressSync(rawTable, brotliOptions(rawTable.length));
    const blob = Buffer.concat([compressedTable, ...this.blobs]);
    return { blob, tableBytes: compressedTable.length, checksum: crc32(blob), places: [...this.places], rawBytes: this.rawBytes + rawTable.length };
  }
}

/** Compresses the chunks of one batch (`ArchiveEncoder` over all of them). */
export function encodeArchive(chunks: readonly ArchivedChunk[]): EncodedArchive {
  const encoder = new ArchiveEncoder();
  for (const chunk of chunks) encoder.add(chunk);
  return encoder.finish();
}

/** Where the parts of a blob are: the UUID table's bytes, then each chunk's. */
export interface ArchiveLayout {
  readonly tableBytes: number;
  readonly places: readonly ChunkPlace[];
}

/** The layout kept beside a blob (`batch_archives.chunks`), as text. */
export function layoutText(layout: ArchiveLayout): string {
  return JSON.stringify({ table: layout.tableBytes, chunks: layout.places.map((place) => [place.bytes, place.first, place.last]) });
}

/** The layout of an archive, read back from its text. */
export function parseLayout(batchId: string, text: string): ArchiveLayout {
  try {
    const parsed = JSON.parse(text) as unknown;
    if (!isRecord(parsed) || typeof parsed.table !== 'number' || !Array.isArray(parsed.chunks)) throw new Error('not { table, chunks }');
    const places = parsed.chunks.map((item: unknown) => {
      if (!Array.isArray(item) || item.length !== 3 || typeof item[0] !== 'number') throw new Error('a chunk place is not [bytes, first, last]');
      const [bytes, first, last] = item as [number, number | null, number | null];
      return { bytes, first, last };
    });
    return { tableBytes: parsed.table, places };
  } catch (error) {
    throw archiveCorrupt(batchId, `its chunk list is unreadable (${error instanceof Error ? error.message : String(error)})`, error);
  }
}

/** The ARCHIVE_CORRUPT error of one archive. */
export function archiveCorrupt(batchId: string, why: string, cause?: unknown): LifecycleError {
  return new LifecycleError('ARCHIVE_CORRUPT', `the archive of batch "${batchId}" is unreadable: ${why}; restore the file from a backup`, {
    details: { batch_id: batchId },
    ...(cause === undefined ? {} : { cause }),
  });
}

function fromColumns(table: ArchivedTable, value: unknown): StoredRow[] {
  const names = ARCHIVED_COLUMNS[table];
  if (!Array.isArray(value) || value.length !== names.length || !value.every(Array.isArray)) throw new Error(`${table} does not hold its ${names.length} columns`);
  const columns = value as unknown[][];
  const count = columns[0]?.length ?? 0;
  if (columns.some((column) => column.length !== count)) throw new Error(`the columns of ${table} differ in length`);
  const decoded = names.map((name, index) => (name === 'position' ? undeltas(columns[index] as ColumnValue[]) : (columns[index] as ColumnValue[])));
  return Array.from({ length: count }, (_, row) => {
    const out: StoredRow = {};
    names.forEach((name, index) => {
      const cell = decoded[index]?.[row];
      if (cell !== null && typeof cell !== 'string' && typeof cell !== 'number') throw new Error(`${table}.${name} holds a value that is no column value`);
      out[name] = cell ?? null;
    });
    return out;
  });
}

/** A stored archive, as `decodeChunk` reads it. */
export interface StoredArchive extends ArchiveLayout {
  readonly batchId: string;
  readonly blob: Buffer;
  readonly checksum: number;
  readonly format: string;
}

function holdersOf(value: unknown): Array<readonly [number, string]> {
  if (!Array.isArray(value) || !value.every((h) => Array.isArray(h) && typeof h[0] === 'number' && typeof h[1] === 'string')) throw new Error('its envelope holders are not [position, envelope] pairs');
  return value as Array<readonly [number, string]>;
}

/** The chunks of one stored archive, decoded one at a time (`openArchive`). */
export interface ArchiveReader {
  readonly chunkCount: number;
  /** Chunk `index`, decompressed and parsed; ARCHIVE_CORRUPT when it is not what was written. */
  chunk(index: number): ArchivedChunk;
}

/**
 * Opens a stored archive for reading: checks its format and checksum and reads its UUID table
 * once; ARCHIVE_CORRUPT when the blob is not what was written.
 */
export function openArchive(archive: StoredArchive): ArchiveReader {
  const { batchId, blob } = archive;
  if (!READABLE_ARCHIVE_FORMATS.includes(archive.format)) throw archiveCorrupt(batchId, `its format "${archive.format}" is not one of ${READABLE_ARCHIVE_FORMATS.join(', ')}`);
  if (crc32(blob) !== archive.checksum) throw archiveCorrupt(batchId, 'its blob does not match its checksum');
  const table = corruptUnless(batchId, () => new UuidTable(parseTable(brotliDecompressSync(blob.subarray(0, archive.tableBytes), DECOMPRESS_OPTIONS).toString('utf8'))));
  const starts: number[] = [];
  let start = archive.tableBytes;
  for (const place of archive.places) {
    starts.push(start);
    start += place.bytes;
  }
  return {
    chunkCount: archive.places.length,
    chunk: (index) => {
      const [from, place] = [starts[index], archive.places[index]];
      if (from === undefined || place === undefined || from + place.bytes > blob.length) throw archiveCorrupt(batchId, `it has no chunk ${index}`);
      return corruptUnless(batchId, () => parseChunk(brotliDecompressSync(blob.subarray(from, from + place.bytes), DECOMPRESS_OPTIONS).toString('utf8'), table));
    },
  };
}

/** What `read` answers; ARCHIVE_CORRUPT (with the cause) when it throws. */
function corruptUnless<T>(batchId: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    throw archiveCorrupt(batchId, error instanceof Error ? error.message : String(error), error);
  }
}

/**
 * The chunk's JSON with its UUIDs put back, in each string value as it is parsed (no second copy
 * of the whole text). A UUID index token only sits across a JSON escape when the escape ends in a
 * hex digit (`\f`, `\b`, `\u001f`) followed by the rest of a UUID; the text is then no valid JSON
 * (a backslash before `~`), and the whole text gets its UUIDs back first, as before.
 */
function parseWithUuids(text: string, table: UuidTable): unknown {
  try {
    return JSON.parse(text, (_key, value: unknown) => (typeof value === 'string' && value.includes('~') ? withUuids(value, table) : value));
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    return JSON.parse(withUuids(text, table));
  }
}

function parseChunk(text: string, table: UuidTable): ArchivedChunk {
  const parsed = parseWithUuids(text, table);
  if (!isRecord(parsed)) throw new Error('it holds no tables');
  return {
    entities: fromColumns('entities', parsed.entities),
    entity_parts: fromColumns('entity_parts', parsed.entity_parts),
    audit: fromColumns('audit', parsed.audit),
    holders: holdersOf(parsed.holders),
  };
}

/** Chunk `index` of an archive back from its blob; ARCHIVE_CORRUPT when the blob is not what was written. */
export function decodeChunk(archive: StoredArchive, index: number): ArchivedChunk {
  return openArchive(archive).chunk(index);
}
