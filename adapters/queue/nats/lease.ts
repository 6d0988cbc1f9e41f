/**
 * The lease of one partition consumer: at most one process pulls a partition at a time (see
 * ORDERING BY BATCH in ../nats.ts). The lease is the last message on `lifecycle.lease.<consumer>`
 * in the lease stream (one message per subject), written with a compare-and-set on the subject's
 * last sequence (`Nats-Expected-Last-Subject-Sequence`), so of several writers exactly one wins:
 *  - free (no message, or a `released` one): take it at once; the last holder settled everything
 *    it held (acked, or nak'd in stream order after its last pull request ended);
 *  - held: the holder renews it every quarter of `leaseMs`; a standby that sees the same sequence
 *    for a whole `leaseMs` (its own monotonic clock: no clock skew involved) takes it over. The
 *    silent holder may have left messages leased on the server: the new holder first waits until
 *    they can only come back as redeliveries (see `takeoverWaitMs` in consumer.ts).
 * A standby (a partition the process consumes only when its usual holder is gone) takes a FREE
 * lease only after it stayed free for `freeDelayMs`, so the usual holder, starting or restarting,
 * gets it first; a silent one after `leaseMs`, as anyone.
 * Handback: a standby marks the lease it holds (`standby: true`). A usual holder that finds such a
 * lease writes a claim on `<subject>.claim`; the standby sees a claim newer than its takeover when
 * it renews, stops that partition as if stopping (its last pull ends, what it did not settle is
 * handed back in order) and releases the lease, which the usual holder takes at once.
 * A holder believes it holds the lease only until `leaseMs - leaseMs/4` after it STARTED its last
 * successful write, and a standby takes over no earlier than `leaseMs` after it first SAW that write:
 * the old holder has stopped pulling and reporting progress before anyone else starts.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { messageOf, sleep, type QueueLogger } from '../support.js';

/** What `acquire` reports. */
export interface Acquired {
  /** True when the previous holder released the lease (or there was none): no message of it can still be out. */
  readonly clean: boolean;
  /** The previous holder's id, when there was one. */
  readonly previous: string | null;
}

/** Options of a lease. */
export interface LeaseOptions {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  /** The lease stream. */
  readonly stream: string;
  readonly subject: string;
  /** This holder's id (unique per process and partition). */
  readonly owner: string;
  readonly leaseMs: number;
  readonly signal: AbortSignal;
  readonly logger: QueueLogger;
  /** For log lines: "partition 3". */
  readonly label: string;
  /** How long a free lease must stay free before this process takes it (ms, default 0; standbys wait). */
  readonly freeDelayMs?: number;
  /** True when this process holds the partition only while its usual holder is gone (it hands it back on a claim). */
  readonly standby?: boolean;
}

interface LeaseBody {
  readonly owner: string | null;
  readonly state: 'held' | 'released';
  /** Held by a standby, which hands it back when the usual holder claims it. */
  readonly standby?: true;
}

const WRONG_LAST_SEQUENCE = 10071;

function parseBody(text: string): LeaseBody {
  try {
    const value = JSON.parse(text) as Partial<LeaseBody>;
    return {
      owner: typeof value.owner === 'string' ? value.owner : null,
      state: value.state === 'released' ? 'released' : 'held',
      ...(value.standby === true ? { standby: true as const } : {}),
    };
  } catch {
    return { owner: null, state: 'held' };
  }
}

/** One partition's lease, as seen by one would-be holder. */
export class PartitionLease {
  /** Sequence of this holder's last lease message; 0 when not holding. */
  private seq = 0;
  /** performance.now() until which this holder may act. */
  private validUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> = Promise.resolve();
  private busy = false;
  private readonly renewMs: number;
  private readonly claimSubject: string;
  /** Sequence of the last claim when this standby took the lease; a newer claim asks for it back. */
  private claimSeenAtTakeover = 0;
  private handback = false;
  /** performance.now() of this would-be holder's last claim (at most one per `leaseMs`). */
  private lastClaim = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: LeaseOptions) {
    this.renewMs = Math.max(50, Math.floor(options.leaseMs / 4));
    this.claimSubject = `${options.subject}.claim`;
  }

  /** True once the usual holder claimed back the partition this standby holds: stop it and release. */
  handbackRequested(): boolean {
    return this.handback;
  }

  /** True while this process holds the lease and may pull, apply and report progress. */
  valid(): boolean {
    return this.seq > 0 && performance.now() < this.validUntil;
  }

  /** Waits until this process holds the lease (undefined when stopped first). Read or write failures are retried. */
  async acquire(): Promise<Acquired | undefined> {
    const { signal, logger, label } = this.options;
    const observed = { seq: -1, since: 0 };
    let failures = 0;
    while (!signal.aborted) {
      try {
        const acquired = await this.tryOnce(observed);
        if (acquired !== undefined) {
          this.timer = setInterval(() => this.renew(), this.renewMs);
          this.timer.unref();
          return acquired;
        }
        failures = 0;
      } catch (error) {
        failures += 1;
        if (failures === 1 || failures % 20 === 0) logger.warn(`${label}: cannot read or write its lease (${messageOf(error)}); retrying`);
      }
      await sleep(this.renewMs, signal);
    }
    return undefined;
  }

  /** One look at the lease: takes it when it has been free or silent long enough (see the module comment). */
  private async tryOnce(observed: { seq: number; since: number }): Promise<Acquired | undefined> {
    const { leaseMs } = this.options;
    const last = await this.read();
    const now = performance.now();
    if (observed.seq !== (last?.seq ?? 0)) Object.assign(observed, { seq: last?.seq ?? 0, since: now });
    const free = last === null || last.body.state === 'released';
    if (!free && last.body.standby === true && this.options.standby !== true && now - this.lastClaim >= leaseMs) {
      this.lastClaim = now;
      await this.claim();
    }
    if (now - observed.since < (free ? (this.options.freeDelayMs ?? 0) : leaseMs)) return undefined;
    const claimSeen = this.options.standby === true ? ((await this.readSubject(this.claimSubject))?.seq ?? 0) : 0;
    if (!(await this.write(last?.seq ?? 0, 'held'))) return undefined;
    this.claimSeenAtTakeover = claimSeen;
    this.handback = false;
    return { clean: free, previous: last?.body.owner ?? null };
  }

  /**
   * Gives the lease up. `clean`: everything this holder pulled is settled, so the next holder may
   * start at once (a `released` message); otherwise the lease is left to lapse.
   */
  async release(clean: boolean): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.renewing;
    const held = this.valid();
    const seq = this.seq;
    this.seq = 0;
    this.validUntil = 0;
    if (!clean || !held) return;
    try {
      await this.options.js.publish(this.options.subject, JSON.stringify({ owner: this.options.owner, state: 'released' } satisfies LeaseBody), {
        expect: { lastSubjectSequence: seq },
      });
    } catch (error) {
      this.options.logger.warn(`${this.options.label}: could not release its lease (${messageOf(error)}); it lapses in ${this.options.leaseMs} ms`);
    }
  }

  private renew(): void {
    if (this.seq === 0 || this.busy) return;
    this.busy = true;
    this.renewing = (async () => {
      try {
        if (!(await this.write(this.seq, 'held'))) {
          this.seq = 0;
          this.validUntil = 0;
          clearInterval(this.timer);
          this.options.logger.warn(`${this.options.label}: lost its lease to another worker; stopping this partition here`);
        } else if (this.options.standby === true && !this.handback) {
          const claim = await this.readSubject(this.claimSubject);
          if (claim !== null && claim.seq > this.claimSeenAtTakeover) {
            this.handback = true;
            this.options.logger.info(`${this.options.label}: its usual holder is back (${claim.body.owner ?? 'unknown'}); handing the partition back`);
          }
        }
      } catch (error) {
        if (!this.valid()) this.options.logger.warn(`${this.options.label}: cannot renew its lease (${messageOf(error)})`);
      } finally {
        this.busy = false;
      }
    })();
  }

  private read(): Promise<{ seq: number; body: LeaseBody } | null> {
    return this.readSubject(this.options.subject);
  }

  private async readSubject(subject: string): Promise<{ seq: number; body: LeaseBody } | null> {
    const message = await this.options.jsm.streams.getMessage(this.options.stream, { last_by_subj: subject });
    return message === null ? null : { seq: message.seq, body: parseBody(message.string()) };
  }

  /** Asks the standby holding this lease to hand it back (a plain message; the newest claim counts). */
  private async claim(): Promise<void> {
    await this.options.js.publish(this.claimSubject, JSON.stringify({ owner: this.options.owner, state: 'held' } satisfies LeaseBody));
  }

  /** Compare-and-set write; false when another writer came first. */
  private async write(expected: number, state: LeaseBody['state']): Promise<boolean> {
    const started = performance.now();
    try {
      const body: LeaseBody = { owner: this.options.owner, state, ...(this.options.standby === true && state === 'held' ? { standby: true as const } : {}) };
      const ack = await this.options.js.publish(this.options.subject, JSON.stringify(body), {
        expect: { lastSubjectSequence: expected },
      });
      this.seq = ack.seq;
      this.validUntil = started + this.options.leaseMs - this.renewMs;
      return true;
    } catch (error) {
      if ((error as { code?: unknown }).code === WRONG_LAST_SEQUENCE) return false;
      throw error;
    }
  }
}
