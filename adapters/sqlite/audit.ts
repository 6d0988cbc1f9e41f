/**
 * The audit table on SQLite: writing a commit's audit rows (each event's first answer on its first
 * row, see outcomes.ts; each envelope once, see below) and reading them back whole.
 *
 * Envelopes are kept once (schema 7, issue #20):
 * - a row's envelope does not repeat its own columns (adapters/audit-envelopes.ts);
 * - a row of an event whose envelope an earlier row of the same commit already holds (an event
 *   delivered to several entities) keeps `''` and, in `envelope_of`, that row's position.
 * Readers get every row with its whole envelope, exactly as written.
 */
import type Database from 'better-sqlite3';
import { decodeEnvelope, encodeEnvelope, envelopeHolders } from '../audit-envelopes.js';
import type { AuditRecord, AuditWrite, Json } from '../store.js';
import { encodeOutcome } from './outcomes.js';
import { nonNegative, pageLimit, type AuditRow } from './rows.js';
import type { StoredRow } from './archive-codec.js';

/** A row with the envelope it holds or refers to (columns in the order readers have always seen them). */
const AUDIT_READ = `SELECT a.position, a.event_id, a.event_type, a.correlation_id, a.causation_id, a.machine, a.entity_id, a.from_status,
  a.to_status, a.outcome, a.reason, a.entity_version, coalesce(r.envelope, a.envelope) AS envelope, a.recorded_at, a.machine_version
  FROM audit a LEFT JOIN audit r ON r.position = a.envelope_of`;

/** How audit rows are written (the bench's ablation turns the savings off; files read the same either way). */
export interface AuditEncoding {
  /** Keep an event's first answer derived from its audit row where it can (outcomes.ts). */
  readonly deriveAnswers: boolean;
  /** Keep each envelope once and without what the columns say. */
  readonly compactEnvelopes: boolean;
}

/** What writing a commit's audit rows reports. */
export interface WrittenAudit {
  readonly positions: number[];
  /** The position of the row holding each answered event's first outcome. */
  readonly outcomeAt: Map<string, number>;
}

/** The audit statements of one connection. */
export class SqliteAudit {
  private readonly s;

  constructor(db: Database.Database, private readonly encoding: AuditEncoding) {
    this.s = {
      insert: db.prepare<
        [string, string, string, string | null, string, string, string | null, string | null, string, string | null, number | null, string, string, string | null, number | null, number | null]
      >(
        `INSERT INTO audit (event_id, event_type, correlation_id, causation_id, machine, entity_id, from_status, to_status,
         outcome, reason, entity_version, envelope, recorded_at, result, machine_version, envelope_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      history: db.prepare<[string, string, number, number], AuditRow>(
        `${AUDIT_READ} WHERE a.machine = ? AND a.entity_id = ? AND a.position > ? ORDER BY a.position LIMIT ?`,
      ),
      since: db.prepare<[number, number], AuditRow>(`${AUDIT_READ} WHERE a.position > ? ORDER BY a.position LIMIT ?`),
    };
  }

  /** Inserts `rows` in order (inside the caller's transaction); `answers` are the events' first answers. */
  write(rows: readonly AuditWrite[], answers: ReadonlyMap<string, Json>, at: string): WrittenAudit {
    const positions: number[] = [];
    const outcomeAt = new Map<string, number>();
    const compact = this.encoding.compactEnvelopes;
    const holders = compact ? envelopeHolders(rows) : [];
    rows.forEach((a, index) => {
      const answer = outcomeAt.has(a.event_id) ? undefined : answers.get(a.event_id);
      const result = answer === undefined ? null : this.encoding.deriveAnswers ? encodeOutcome(answer, a) : JSON.stringify(answer);
      const holder = positions[holders[index] ?? -1];
      const envelope = holder !== undefined ? '' : compact ? encodeEnvelope(a.envelope, a) : JSON.stringify(a.envelope);
      const position = Number(
        this.s.insert.run(
          a.event_id, a.event_type, a.correlation_id, a.causation_id, a.machine, a.entity_id, a.from_status, a.to_status, a.outcome, a.reason,
          a.entity_version, envelope, at, result, a.machine_version ?? null, holder ?? null,
        ).lastInsertRowid,
      );
      if (answer !== undefined) outcomeAt.set(a.event_id, position);
      positions.push(position);
    });
    return { positions, outcomeAt };
  }

  /** One entity's rows after `afterPosition`, ascending. */
  history(machine: string, entity_id: string, options: { limit?: number; afterPosition?: number }): AuditRecord[] {
    return this.s.history.all(machine, entity_id, nonNegative(options.afterPosition), pageLimit(options.limit)).map(parseAudit);
  }

  /** The global feed after `afterPosition`, ascending. */
  since(afterPosition: number, limit: number): AuditRecord[] {
    return this.s.since.all(nonNegative(afterPosition), pageLimit(limit)).map(parseAudit);
  }
}

/**
 * Archived audit rows (as stored; see archives.ts) read as `history` reads live ones: each with the
 * envelope it holds or the one its `envelope_of` row holds (`envelopeAt`), in the same key order.
 */
export function readArchivedAudit(rows: readonly StoredRow[], envelopeAt: (position: number) => string | undefined): AuditRecord[] {
  return rows.map((row) => {
    const held = row.envelope_of === null ? undefined : envelopeAt(row.envelope_of as number);
    const read = {
      position: row.position, event_id: row.event_id, event_type: row.event_type, correlation_id: row.correlation_id, causation_id: row.causation_id,
      machine: row.machine, entity_id: row.entity_id, from_status: row.from_status, to_status: row.to_status, outcome: row.outcome, reason: row.reason,
      entity_version: row.entity_version, envelope: held ?? row.envelope, recorded_at: row.recorded_at, machine_version: row.machine_version,
    };
    return parseAudit(read as AuditRow);
  });
}

function parseAudit(row: AuditRow): AuditRecord {
  return { ...row, envelope: decodeEnvelope(row.envelope, row) };
}
