/**
 * `GET /stream`: server-sent events of every committed transition. One engine subscription
 * feeds every subscriber; each commit's audit rows are placed under their batch once (essays
 * by their parent) and each subscriber receives only the rows of batches the policy lets it
 * read, in commit order. Heartbeat comments keep proxies from closing idle streams; a slow
 * subscriber whose buffer grows past the limit is disconnected; the subscriber count is capped.
 */
import type { Response, Router } from 'express';
import type { AuditWrite } from '../store.js';
import type { Principal } from './auth.js';
import type { HttpContext } from './context.js';
import { sendError } from './errors.js';
import { authorizeOrThrow, requirePrincipalOf } from './guard.js';
import { checkSubscribers } from './limits.js';
import { batchIdOfEntity } from './ownership.js';

/** One row as subscribers see it (the envelope is left out: read it from the history route). */
export interface StreamRow {
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
  readonly batch_id: string | null;
  readonly frame: string;
}

interface Subscriber {
  readonly principal: Principal;
  readonly res: Response;
  /** Keeps each subscriber's frames in commit order while its permission checks run. */
  chain: Promise<void>;
}

/** The stream's subscribers and its single engine subscription. */
export class StreamHub {
  private readonly subscribers = new Set<Subscriber>();
  private unsubscribe: (() => void) | undefined;
  private placing: Promise<void> = Promise.resolve();
  /** essay id -> batch id (an essay never changes batch); bounded. */
  private readonly essayBatches = new Map<string, string>();

  constructor(private readonly ctx: HttpContext) {}

  /** Number of open streams. */
  get size(): number {
    return this.subscribers.size;
  }

  /** Opens a stream on `res` for `principal`; throws 503 when the cap is reached. */
  open(principal: Principal, res: Response): void {
    checkSubscribers(this.subscribers.size, this.ctx.limits);
    const subscriber: Subscriber = { principal, res, chain: Promise.resolve() };
    this.subscribers.add(subscriber);
    this.unsubscribe ??= this.ctx.engine.subscribe((rows) => this.onCommit(rows));
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.write('retry: 3000\n: connected\n\n');
    const heartbeat = setInterval(() => this.write(subscriber, `: heartbeat ${this.ctx.clock().toISOString()}\n\n`), this.ctx.limits.streamHeartbeatMs);
    heartbeat.unref();
    res.once('close', () => {
      clearInterval(heartbeat);
      this.remove(subscriber);
    });
  }

  /** Ends every stream (used when draining). */
  closeAll(): void {
    for (const subscriber of [...this.subscribers]) {
      subscriber.res.end();
      this.remove(subscriber);
    }
  }

  private remove(subscriber: Subscriber): void {
    this.subscribers.delete(subscriber);
    if (this.subscribers.size === 0 && this.unsubscribe !== undefined) {
      this.unsubscribe();
      this.unsubscribe = undefined;
    }
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

  private onCommit(rows: readonly AuditWrite[]): void {
    this.placing = this.placing.then(async () => {
      try {
        const placed = await this.place(rows);
        for (const subscriber of this.subscribers) this.deliver(subscriber, placed);
      } catch (error) {
        this.ctx.logger.error({ err: error }, 'stream could not place committed rows');
      }
    });
  }

  private async place(rows: readonly AuditWrite[]): Promise<PlacedRow[]> {
    const placed: PlacedRow[] = [];
    for (const row of rows) {
      const batchId = row.machine !== 'essay' ? row.entity_id : (this.essayBatches.get(row.entity_id) ?? (await this.batchOfEssay(row.entity_id)));
      const { envelope: _envelope, ...rest } = row;
      const streamRow: StreamRow = { ...rest, batch_id: batchId ?? null };
      placed.push({ batch_id: streamRow.batch_id, frame: `event: transition\ndata: ${JSON.stringify(streamRow)}\n\n` });
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

  /** Writes the frames of one commit the subscriber may read, in one write. */
  private deliver(subscriber: Subscriber, rows: readonly PlacedRow[]): void {
    subscriber.chain = subscriber.chain.then(async () => {
      let frames = '';
      for (const row of rows) {
        if (row.batch_id === null) continue;
        const owner = this.ctx.owners.known(row.batch_id) ?? (await this.ctx.owners.ownerOf(row.batch_id)) ?? null;
        const allowed = this.ctx.authorize(subscriber.principal, 'batch.read', { kind: 'batch', batch_id: row.batch_id, owner });
        if (allowed instanceof Promise ? await allowed : allowed) frames += row.frame;
      }
      if (frames !== '') this.write(subscriber, frames);
    }).catch((error: unknown) => {
      this.ctx.logger.error({ err: error }, 'stream delivery failed');
    });
  }
}

/** Adds the `/stream` route to `router`. */
export function streamRoutes(router: Router, ctx: HttpContext, hub: StreamHub): void {
  router.get('/stream', async (_req, res) => {
    try {
      const principal = requirePrincipalOf(res);
      await authorizeOrThrow(ctx.authorize, principal, 'stream.read', { kind: 'system', name: 'stream' });
      hub.open(principal, res);
    } catch (error) {
      sendError(res, error);
    }
  });
}
