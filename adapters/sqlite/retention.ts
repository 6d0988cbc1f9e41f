/**
 * Retention on SQLite (adapters/engine/retention.ts has the policy). The inbox keeps no time of
 * its own: a key's time is the time of the audit row holding its first outcome, and audit
 * positions grow with commit time, so "first recorded before T" is "audit position at most the
 * last position recorded before T". Keys whose outcome is kept inline (events with no audit row)
 * have no time and are kept. Rows of archived batches (archives.ts) count with the time of their
 * archive's last row.
 */
import type Database from 'better-sqlite3';
import type { PruneCutoffs, PruneReport } from '../store.js';

/** Deletes what the cutoffs allow (the caller runs it in a transaction). */
export function pruneRows(db: Database.Database, cutoffs: PruneCutoffs): PruneReport {
  const outbox = db.prepare('DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < ?').run(cutoffs.outboxPublishedBefore).changes;
  // Archived audit rows count too: an archive's last position was recorded at its last_recorded_at.
  const last =
    db
      .prepare<[string, string], { p: number | null }>(
        `SELECT MAX(p) AS p FROM (SELECT MAX(position) AS p FROM audit WHERE recorded_at < ?
         UNION ALL SELECT MAX(last_position) FROM batch_archives WHERE last_recorded_at < ?)`,
      )
      .get(cutoffs.inboxBefore, cutoffs.inboxBefore)?.p ?? null;
  const inbox = last === null ? 0 : db.prepare('DELETE FROM inbox WHERE audit_position IS NOT NULL AND audit_position <= ?').run(last).changes;
  return { outbox, inbox };
}
