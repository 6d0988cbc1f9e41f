/**
 * `GET /stream`: server-sent events of every committed transition, read from the store's audit log,
 * so a subscriber sees the commits of every process on the store (queue workers included), not
 * only this one's. Each frame carries `id: <audit position>`; a client that reconnects sends
 * `Last-Event-ID` (EventSource does) or `?after=<position>` and resumes after that row, with no gap
 * and nothing twice (positions are assigned in commit order: see the stores' ordered feeds). A new
 * subscriber without either starts after the newest row.
 *
 * One reader serves every subscriber: every `streamPollMs` (and at once after a commit of this
 * process's engine) it reads the log after the lowest cursor of its subscribers, up to 5,000 rows a
 * round, places each row under its batch once (essays by their parent) and hands each subscriber
 * the rows past its own cursor that the policy lets it read. Heartbeat comments keep proxies from
 * closing idle streams; a slow subscriber whose buffer grows past the limit is disconnected; the
 * subscriber count is capped.
 */
import type { Request, Response, Router } from 'express';
import type { AuditRecord } from '../store.js';
import { parseWith } from './access.js';
import type { Principal } from './auth.js';
import type { HttpContext } from './context.js';
import { HttpError, sendError } from './errors.js';
import { authorizeOrThrow, requirePrincipalOf } from './guard.js';
import { checkSubscribers } from './limits.js';
import { batchIdOfEntity } from './ownership.js';
import { StreamQuery } from './schemas.js';

/** One row as subscribers see it (the envelope is left out: read it from the history route). */
export interface StreamRow {
  /** The audit position: the frame's `id`, to resume after. */
  readonly position: number;
  readonly recorded_at: string;
  readonly event_id: string;
  readonly event_type: string;
  readonly correlation_id: string;
  readonly causation_id: string | null;
  readonly machine: string;
  readonly entity_id: string;
  readonly batch_id: string | null;
  readonly from_status: string | null;
  readonly to_status: string | null;
  readonly outcome: 'accepted' | 'refused';
  readonly reason: string | null;
  readonly entity_version: number | null;
}

/** A committed row placed under its batch, serialised once for every subscriber. */
interface PlacedRow {
  readonly position: number;
  readonly batch_id: string | null;
  readonly frame: string;
}

interface Subscriber {
  readonly principal: Principal;
  readonly res: Response;
  /** Position of the last row this subscriber was handed (read rounds start after the lowest). */
  requested: number;
  /** Position of the last row written or skipped for it (checked in its chain: nothing twice). */
  cursor: number;
  /** Keeps each subscriber's frames in order while its permission checks run. */
  chain: Promise<void>;
}

const PAGE = 1000;
const ROWS_PER_ROUND = 5000;

/** The start position of a request: `Last-Event-ID`, else `?after=`, else undefined (the newest). */
function startOf(req: Request): number | undefined {
  const header = req.headers['last-event-id'];
  if (typeof header === 'string' && header.trim() !== '') {
    if (!/^\d{1,15}$/.test(header.trim())) {
      throw new HttpError('INVALID_REQUEST', 'Last-Event-ID must be an audit position (a whole number)', {
        issues: [{ path: 'Last-Event-ID', code: 'invalid_format', message: 'expected a whole number' }],
      });
    }
    return Number(header.trim());
  }
  return parseWith(StreamQuery, req.query, 'query').after;
}

/** The stream's subscribers and the one reader of the audit log that feeds them. */
export class StreamHub {
  private readonly subscribers = new Set<Subscriber>();
  private unsubscribe: (() => void) | undefined;
  private poller: ReturnType<typeof setInterval> | undefined;
  private reading = false;
  private readAgain = false;
  /** The newest position seen (a lower bound for finding the newest row). */
  private head = 0;
  /** essay id -> batch id (an essay never changes batch); bounded. */
  private readonly essayBatches = new Map<string, string>();

  constructor(private readonly ctx: HttpContext) {}

  /** Number of open streams. */
  get size(): number {
    return this.subscribers.size;
  }

  /** Opens a stream on `res` for `principal` after position `after` (default the newest); 503 at the cap. */
  async open(principal: Principal, res: Response, after: number | undefined): Promise<void> {
    checkSubscribers(this.subscribers.size, this.ctx.limits);
    const start = after ?? (this.head = await this.ctx.queries.latestAuditPosition(this.head));
    // The client may have gone while the newest position was read: its 'close' is already past.
    if (res.destroyed || res.socket === null || res.socket.destroyed) return;
    checkSubscribers(this.subscribers.size, this.ctx.limits);
    const subscriber: Subscriber = { principal, res, requested: start, cursor: start, chain: Promise.resolve() };
    this.subscribers.add(subscriber);
    this.start();
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.write(`retry: 3000\n: connected after position ${start}\n\n`);
    const heartbeat = setInterval(() => this.write(subscriber, `: heartbeat ${this.ctx.clock().toISOString()}\n\n`), this.ctx.limits.streamHeartbeatMs);
    heartbeat.unref();
    res.once('close', () => {
      clearInterval(heartbeat);
      this.remove(subscriber);
    });
    this.read();
  }

  /** Ends every stream (used when draining). */
  closeAll(): void {
    for (const subscriber of [...this.subscribers]) {
      subscriber.res.end();
      this.remove(subscriber);
    }
  }

  private start(): void {
    this.unsubscribe ??= this.ctx.engine.subscribe(() => this.read());
    if (this.poller === undefined) {
      this.poller = setInterval(() => this.read(), this.ctx.limits.streamPollMs);
      this.poller.unref();
    }
  }

  private remove(subscriber: Subscriber): void {
    this.subscribers.delete(subscriber);
    if (this.subscribers.size > 0) return;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    clearInterval(this.poller);
    this.poller = undefined;
  }

  private write(subscriber: Subscriber, frame: string): void {
    const { res } = subscriber;
    if (res.writableEnded || res.destroyed) return;
    if (res.writableLength > this.ctx.limits.streamBufferBytes) {
      this.ctx.logger.warn({ buffered: res.writableLength }, 'stream subscriber too slow; disconnecting');
      res.end();
      this.remove(subscriber);
      return;
    }
    res.write(frame);
  }

  /** Starts a read round, or asks the running one to go again (one round at a time). */
  private read(): void {
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = true;
    void (async () => {
      try {
        do {
          this.readAgain = false;
          await this.round();
        } while (this.readAgain && this.subscribers.size > 0);
      } catch (error) {
        this.ctx.logger.error({ err: error }, 'stream could not read the audit log; retrying');
      } finally {
        this.reading = false;
      }
    })();
  }

  /** Reads the log after the lowest cursor and hands every subscriber its rows. */
  private async round(): Promise<void> {
    if (this.subscribers.size === 0) return;
    let from = Math.min(...[...this.subscribers].map((subscriber) => subscriber.requested));
    for (let read = 0; read < ROWS_PER_ROUND; ) {
      const rows = await this.ctx.queries.auditSince(from, PAGE);
      if (rows.length === 0) return;
      const placed = await this.place(rows);
      from = rows.at(-1)?.position ?? from;
      this.head = Math.max(this.head, from);
      for (const subscriber of this.subscribers) {
        if (subscriber.requested >= from) continue;
        subscriber.requested = from;
        this.deliver(subscriber, placed);
      }
      read += rows.length;
      if (rows.length < PAGE) return;
    }
    this.readAgain = true;
  }

  private async place(rows: readonly AuditRecord[]): Promise<PlacedRow[]> {
    const placed: PlacedRow[] = [];
    for (const row of rows) {
      const batchId = row.machine !== 'essay' ? row.entity_id : (this.essayBatches.get(row.entity_id) ?? (await this.batchOfEssay(row.entity_id)));
      const { envelope: _envelope, ...rest } = row;
      const streamRow: StreamRow = { ...rest, batch_id: batchId ?? null };
      placed.push({ position: row.position, batch_id: streamRow.batch_id, frame: `id: ${row.position}\nevent: transition\ndata: ${JSON.stringify(streamRow)}\n\n` });
    }
    return placed;
  }

  private async batchOfEssay(essayId: string): Promise<string | undefined> {
    const batchId = await batchIdOfEntity(this.ctx.queries, 'essay', essayId);
    if (batchId !== undefined) {
      if (this.essayBatches.size >= 100_000) this.essayBatches.clear();
      this.essayBatches.set(essayId, batchId);
    }
    return batchId;
  }

  /** Writes the frames past the subscriber's cursor that it may read, in one write. */
  private deliver(subscriber: Subscriber, rows: readonly PlacedRow[]): void {
    subscriber.chain = subscriber.chain
      .then(async () => {
        let frames = '';
        for (const row of rows) {
          if (row.position <= subscriber.cursor) continue;
          subscriber.cursor = row.position;
          if (row.batch_id === null) continue;
          const owner = this.ctx.owners.known(row.batch_id) ?? (await this.ctx.owners.ownerOf(row.batch_id)) ?? null;
          const allowed = this.ctx.authorize(subscriber.principal, 'batch.read', { kind: 'batch', batch_id: row.batch_id, owner });
          if (allowed instanceof Promise ? await allowed : allowed) frames += row.frame;
        }
        if (frames !== '') this.write(subscriber, frames);
      })
      .catch((error: unknown) => {
        this.ctx.logger.error({ err: error }, 'stream delivery failed');
      });
  }
}

/** Adds the `/stream` route to `router`. */
export function streamRoutes(router: Router, ctx: HttpContext, hub: StreamHub): void {
  router.get('/stream', async (req, res) => {
    try {
      const principal = requirePrincipalOf(res);
      await authorizeOrThrow(ctx.authorize, principal, 'stream.read', { kind: 'system', name: 'stream' });
      await hub.open(principal, res, startOf(req));
    } catch (error) {
      sendError(res, error);
    }
  });
}
