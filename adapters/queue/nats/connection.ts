/**
 * The NATS connection: connected with capped exponential back-off until the server answers, then
 * reconnecting forever with the same back-off, logging what it waits for.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { LifecycleError } from '../../errors.js';
import { backoffDelay, formatDelay, messageOf, silentLogger, sleep, type BackoffOptions, type QueueLogger } from '../support.js';

/** Options of `connectNats`. */
export interface ConnectOptions {
  readonly logger?: QueueLogger;
  /** Back-off between connection attempts (default 500 ms doubling up to 30 s). */
  readonly backoff?: BackoffOptions;
  /** Stops waiting (rejects with SHUTTING_DOWN). */
  readonly signal?: AbortSignal;
  /** Client name shown by the server. */
  readonly name?: string;
  /** Handshake timeout of one attempt (ms, default 5000). */
  readonly timeoutMs?: number;
}

/**
 * Connects to `url`, retrying with capped exponential back-off until the server answers (or
 * `signal` aborts), and logging each wait. The connection then reconnects forever, with the same
 * back-off, logging when it loses and regains the server.
 */
export async function connectNats(url: string, options: ConnectOptions = {}): Promise<NatsConnection> {
  const logger = options.logger ?? silentLogger;
  let reconnects = 0;
  let connected = false;
  for (let attempt = 1; ; attempt += 1) {
    if (options.signal?.aborted === true) throw new LifecycleError('SHUTTING_DOWN', `stopped while waiting for NATS at ${url}`);
    try {
      const nc = await connect({
        servers: url,
        name: options.name ?? 'lifecycle-worker',
        timeout: options.timeoutMs ?? 5000,
        maxReconnectAttempts: -1,
        reconnectJitter: 0,
        reconnectDelayHandler: () => {
          // Also consulted while dialling the first time: only count and log real reconnects.
          if (!connected) return backoffDelay(1, options.backoff);
          reconnects += 1;
          const delay = backoffDelay(reconnects, options.backoff);
          logger.warn(`waiting for NATS at ${url} (reconnect attempt ${reconnects}, next in ${formatDelay(delay)})`);
          return delay;
        },
      });
      connected = true;
      if (attempt > 1) logger.info(`connected to NATS at ${url} after ${attempt} attempts`);
      else logger.info(`connected to NATS at ${url}`);
      void watchStatus(nc, url, logger, () => (reconnects = 0));
      return nc;
    } catch (error) {
      const delay = backoffDelay(attempt, options.backoff);
      logger.warn(`waiting for NATS at ${url} (attempt ${attempt}, next in ${formatDelay(delay)}): ${messageOf(error)}`, { attempt, delay_ms: delay });
      await sleep(delay, options.signal);
    }
  }
}

async function watchStatus(nc: NatsConnection, url: string, logger: QueueLogger, onReconnect: () => void): Promise<void> {
  try {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') logger.warn(`lost the connection to NATS at ${url}; reconnecting`);
      else if (status.type === 'reconnect') {
        onReconnect();
        logger.info(`reconnected to NATS at ${url}`);
      } else if (status.type === 'error') logger.error(`NATS error: ${messageOf(status.error)}`);
    }
  } catch (error) {
    logger.error(`NATS status watch ended: ${messageOf(error)}`);
  }
}
