/**
 * Graceful shutdown of the HTTP layer: once draining, new requests are answered 503
 * SHUTTING_DOWN (with `Connection: close`), the event streams are ended, and `drain()`
 * resolves when every request in flight (and so every commit it started) has finished.
 */
import type { RequestHandler } from 'express';
import { LifecycleError } from '../errors.js';
import { sendError } from './errors.js';

/** Counts requests in flight and refuses new ones while draining. */
export class RequestDrain {
  private inFlight = 0;
  private draining = false;
  private readonly idle = new Set<() => void>();

  /** Requests currently in flight. */
  get active(): number {
    return this.inFlight;
  }

  /** The middleware that counts requests and refuses them once draining. */
  middleware(): RequestHandler {
    return (_req, res, next) => {
      if (this.draining) {
        res.setHeader('Connection', 'close');
        sendError(res, new LifecycleError('SHUTTING_DOWN', 'the server is shutting down; retry on another instance or later'));
        return;
      }
      this.inFlight += 1;
      // 'close' ends every response: after 'finish' when answered, alone when the client went away.
      res.once('close', () => {
        this.inFlight -= 1;
        if (this.inFlight === 0) for (const resolve of this.idle) resolve();
      });
      next();
    };
  }

  /** Stops taking requests, runs `beforeWait` (end the streams), then waits until none is in flight. Idempotent. */
  async drain(beforeWait: () => void = () => undefined): Promise<void> {
    this.draining = true;
    beforeWait();
    if (this.inFlight === 0) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.idle.delete(done);
        resolve();
      };
      this.idle.add(done);
    });
  }
}
