/**
 * The store's reads of archived batches (archives.ts): each answers exactly what the live read
 * answered before the batch was archived, in the same shape and order.
 */
import { compareText } from '../store-support.js';
import type { AuditRecord, EntityRecord, ListQuery } from '../store.js';
import type { DecodedChunk } from './archive-chunk.js';
import { storedEntityRow, storedPartRow, type SqliteArchives } from './archives.js';
import { readArchivedAudit } from './audit.js';
import type { KeptOutcome } from './outcomes.js';
import type { SqliteParts } from './parts.js';
import { nonNegative, pageLimit } from './rows.js';

/** A kept outcome with the position of its audit row (which may be in an archive). */
export type KeptOutcomeRow = KeptOutcome & { audit_position: number | null };

const text = (value: string | number | null | undefined): string | null => (value === null || value === undefined ? null : String(value));

/** Reads of archived rows, for one connection. */
export class ArchivedReads {
  constructor(
    private readonly archives: SqliteArchives,
    private readonly parts: SqliteParts,
  ) {}

  /** The record of an archived entity (undefined when no archive holds it). */
  entity(machine: string, entity_id: string): EntityRecord | undefined {
    const chunk = this.archives.archiveOf(machine, entity_id)?.chunk;
    const row = chunk?.entity(machine, entity_id);
    return chunk === undefined || row === undefined ? undefined : this.record(chunk, row);
  }

  private record(archive: DecodedChunk, row: NonNullable<ReturnType<DecodedChunk['entity']>>): EntityRecord {
    return this.parts.readWith(storedEntityRow(row), archive.partsOf(String(row.machine), String(row.entity_id)).map(storedPartRow));
  }

  /**
   * `live`, the entity's live history page, with its archived rows (from every chunk they sit in)
   * merged in by position: the same page as before archiving.
   */
  history(machine: string, entity_id: string, live: AuditRecord[], options: { limit?: number; afterPosition?: number }): AuditRecord[] {
    const chunks = this.archives.chunksHolding(machine, entity_id);
    if (chunks === undefined) return live;
    const after = nonNegative(options.afterPosition);
    const archived = chunks.flatMap((chunk) => chunk.auditOf(machine, entity_id)).filter((row) => (row.position as number) > after);
    const envelopeAt = (position: number): string | undefined => {
      for (const chunk of chunks) {
        const envelope = chunk.envelopeAt(position);
        if (envelope !== undefined) return envelope;
      }
      return undefined;
    };
    const merged = [...readArchivedAudit(archived, envelopeAt), ...live];
    return merged.sort((a, b) => a.position - b.position).slice(0, pageLimit(options.limit));
  }

  /** The kept outcome of an event whose audit row is archived (the row itself when it is not). */
  outcome(row: KeptOutcomeRow): KeptOutcome {
    const audit = row.audit_position === null ? undefined : this.archives.auditAt(row.audit_position);
    if (audit === undefined) return row;
    return {
      event_id: row.event_id, result: text(audit.result), machine: text(audit.machine), entity_id: text(audit.entity_id),
      from_status: text(audit.from_status), to_status: text(audit.to_status), outcome: text(audit.outcome),
    };
  }

  /**
   * A listing by parent whose parent batch is archived: its archived entities merged with `liveAll`
   * (the live ones, unpaged: only those created beside the archive), in listing order, paged.
   * Undefined when the parent has no archive (the live page is the answer).
   */
  list(query: ListQuery, liveAll: () => EntityRecord[]): EntityRecord[] | undefined {
    const chunks = query.parent_id === undefined ? undefined : this.archives.archiveOfBatch(query.parent_id);
    if (chunks === undefined) return undefined;
    const archived = chunks.flatMap((chunk) =>
      chunk.rows.entities
        .filter((row) => row.machine === query.machine && row.parent_id === query.parent_id && (query.status === undefined || row.status === query.status))
        .map((row) => this.record(chunk, row)),
    );
    const all = [...liveAll(), ...archived].sort((a, b) => compareText(a.created_at, b.created_at) || compareText(a.entity_id, b.entity_id));
    const offset = nonNegative(query.offset);
    return all.slice(offset, offset + pageLimit(query.limit));
  }
}
