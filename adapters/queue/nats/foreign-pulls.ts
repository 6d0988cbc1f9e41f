/**
 * Detects another process pulling a partition consumer whose lease this process holds: an older
 * worker without leases still running beside upgraded ones, or a client reading the durable by
 * hand. Checked between two of this holder's pull requests, when none of its own is open, so any
 * pull request waiting on the consumer is someone else's. Two sightings in a row, `checkEveryMs`
 * apart, log an error (at most once a minute): two pullers break per-batch order. A diagnostic
 * only: a failing check is ignored and never disturbs consuming.
 */
import type { Consumer } from '@nats-io/jetstream';
import type { QueueLogger } from '../support.js';

const REPORT_EVERY_MS = 60_000;

export class ForeignPullWatch {
  private lastCheck = Number.NEGATIVE_INFINITY;
  private lastReport = Number.NEGATIVE_INFINITY;
  private sightings = 0;

  constructor(
    private readonly label: string,
    private readonly consumerName: string,
    private readonly checkEveryMs: number,
    private readonly logger: QueueLogger,
  ) {}

  /** Looks at the consumer's waiting pull requests when the last look is `checkEveryMs` old. */
  async check(consumer: Consumer): Promise<void> {
    const now = performance.now();
    if (now - this.lastCheck < this.checkEveryMs) return;
    this.lastCheck = now;
    let waiting: number;
    try {
      waiting = (await consumer.info(false)).num_waiting;
    } catch {
      return;
    }
    this.sightings = waiting > 0 ? this.sightings + 1 : 0;
    if (this.sightings < 2 || now - this.lastReport < REPORT_EVERY_MS) return;
    this.lastReport = now;
    this.logger.error(
      `${this.label}: ${waiting} pull request(s) of another process wait on ${this.consumerName}, whose lease this worker holds; ` +
        'two pullers break per-batch order (an older worker still running? upgrade every worker together)',
    );
  }
}
