/**
 * The server process: the ONLY place that reads the environment. `npm start` runs this file.
 * It opens the store, the engine, the timer scheduler and (SIMULATE=on) the simulated
 * downstream services, serves the HTTP API and the demo page, prints one start-up line and
 * shuts down gracefully on SIGINT/SIGTERM. `startServer` is exported for in-process tests.
 *
 * Security rule: a HOST that is not loopback requires AUTH_TOKENS (or SERVICE_TOKENS);
 * without tokens the server runs open, with a demo principal, and only on loopback.
 */
import { mkdirSync, realpathSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import { LifecycleEngine } from '../adapters/engine/engine.js';
import { LifecycleQueries } from '../adapters/engine/queries.js';
import { startTimerScheduler, type Worker } from '../adapters/engine/workers.js';
import { bearerTokenAuthenticator, isLoopbackHost, openAuthenticator, type Principal } from '../adapters/http/auth.js';
import type { DeadLetterQueue } from '../adapters/queue/dead-letters.js';
import { EmbeddedQueue } from '../adapters/queue/embedded.js';
import { embeddedDeadLetters } from '../adapters/queue/embedded/dead-letters.js';
import { openSqliteStore, SqliteStore } from '../adapters/sqlite/store.js';
import type { SnapshotStore } from '../adapters/store.js';
import { createApp, gracefulClose } from './app.js';
import { ConfigError, describeStore, parseConfig, type ServerConfig } from './config.js';
import { createServerLogger } from './logger.js';
import { Simulator } from './simulator.js';

/**
 * Who every request is when the server runs open (loopback, no tokens): the local principal acts
 * as a user and as a service, so the reference's envelopes (service results, data.user_id naming
 * any user) work against the zero-config demo. Internal events stay refused.
 */
export const DEMO_PRINCIPAL: Principal = { user_id: 'demo-teacher', org_id: 'demo-school', roles: ['admin'], kind: 'local' };

/** The directory of the demo page. */
export const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

/** How long shutdown waits for in-flight requests before closing their connections. */
const SHUTDOWN_GRACE_MS = 10_000;

/** A started server. */
export interface RunningServer {
  /** e.g. http://127.0.0.1:3000 */
  readonly url: string;
  readonly engine: LifecycleEngine;
  readonly simulator: Simulator | undefined;
  /** 'open' (no auth, loopback) or 'tokens' (bearer tokens required). */
  readonly auth: 'open' | 'tokens';
  /**
   * Graceful stop: stops accepting connections, ends the live streams, waits for in-flight
   * requests (and so their commits), stops the simulator and the scheduler, closes the store.
   * Idempotent.
   */
  close(): Promise<void>;
}

/** Refuses to run open on an address other machines can reach (issue 8). */
function checkExposure(config: ServerConfig): void {
  if (config.tokens.length === 0 && !isLoopbackHost(config.host)) {
    throw new ConfigError([
      `HOST="${config.host}" is not a loopback address and AUTH_TOKENS is not set: refusing to serve the API without authentication (set AUTH_TOKENS=token=user_id[:org_id[:roles]], or HOST=127.0.0.1)`,
    ]);
  }
}

async function openStore(config: ServerConfig): Promise<SnapshotStore> {
  const store = config.store;
  if (store.kind === 'postgres') {
    const { openPostgresStore } = await import('../adapters/postgres/store.js');
    return openPostgresStore({ connectionString: store.url, schema: store.schema });
  }
  if (store.path !== ':memory:') mkdirSync(dirname(store.path), { recursive: true });
  return openSqliteStore({ path: store.path, synchronous: config.sqliteSynchronous });
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

function urlOf(address: AddressInfo): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

/** The NATS dead-letter stream the operator routes serve, and how to let go of its connection. */
interface NatsDeadLetters {
  readonly queue: DeadLetterQueue;
  close(): Promise<void>;
}

/**
 * Connects to the workers' NATS server (NATS_URL) for their dead letters; gives up after 15 s.
 * The NATS client is an optional peer dependency, loaded only when NATS_URL is set.
 */
async function openNatsDeadLetters(nats: NonNullable<ServerConfig['nats']>, engine: LifecycleEngine): Promise<NatsDeadLetters> {
  const { connectNats } = await import('../adapters/queue/nats/connection.js');
  const { natsDeadLetters } = await import('../adapters/queue/nats/dead-letters.js');
  let nc: Awaited<ReturnType<typeof connectNats>>;
  try {
    nc = await connectNats(nats.url, { signal: AbortSignal.timeout(15_000), name: 'lifecycle-server dead letters' });
  } catch (error) {
    throw new Error(`NATS_URL: cannot connect to ${nats.url}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  try {
    return { queue: await natsDeadLetters(nc, engine, { stream: nats.stream }), close: () => nc.close() };
  } catch (error) {
    await nc.close();
    throw error;
  }
}

/**
 * The dead letters the operator routes list and redrive: the embedded queue of a SQLite store
 * (lifecycle-worker --queue embedded on the same file) and, with NATS_URL, the NATS workers'.
 */
function deadLetterQueues(store: SnapshotStore, engine: LifecycleEngine, nats: NatsDeadLetters | undefined): DeadLetterQueue[] {
  const embedded = store instanceof SqliteStore ? [embeddedDeadLetters(new EmbeddedQueue(store), engine)] : [];
  return nats === undefined ? embedded : [...embedded, nats.queue];
}

/** Starts everything `config` describes. Throws ConfigError for an exposed open server. */
export async function startServer(config: ServerConfig, logger: Logger): Promise<RunningServer> {
  checkExposure(config);
  const store = await openStore(config);
  // The demo refuses a commit that would break a lifecycle invariant (the library's default only logs).
  // With the simulator on, messages the engine applies itself go to the outbox too: the simulated
  // file service answers the tracker's slot-created messages there (see server/simulator.ts).
  const engine = new LifecycleEngine({ store, invariants: 'refuse', outboxInternal: config.simulate.enabled });
  const onError = (what: string) => (error: unknown) => logger.error({ err: error }, `${what} failed`);
  const scheduler: Worker = startTimerScheduler(engine, { intervalMs: 1000, onError: onError('timer scheduler round') });
  const simulator = config.simulate.enabled
    ? new Simulator({
        engine,
        seed: config.simulate.seed ?? Date.now(),
        failureRate: config.simulate.failureRate,
        delayMs: config.simulate.delayMs,
        logger: logger.child({ component: 'simulator' }),
      })
    : undefined;
  const open = config.tokens.length === 0;
  const authenticate = open ? openAuthenticator(DEMO_PRINCIPAL) : bearerTokenAuthenticator(config.tokens);
  let nats: NatsDeadLetters | undefined;
  let address: AddressInfo;
  let server: Server;
  let app: ReturnType<typeof createApp>;
  try {
    nats = config.nats === undefined ? undefined : await openNatsDeadLetters(config.nats, engine);
    const deadLetters = deadLetterQueues(store, engine, nats);
    app = createApp({ engine, queries: new LifecycleQueries(store), logger, authenticate, staticDir: PUBLIC_DIR, deadLetters });
    server = createServer(app);
    address = await listen(server, config.port, config.host);
  } catch (error) {
    await nats?.close();
    await scheduler.stop();
    await store.close();
    throw error;
  }
  simulator?.start();
  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    await gracefulClose(server, app, { graceMs: SHUTDOWN_GRACE_MS });
    await simulator?.stop();
    await scheduler.stop();
    await nats?.close();
    await store.close();
  };
  return {
    url: urlOf(address),
    engine,
    simulator,
    auth: open ? 'open' : 'tokens',
    close: () => (closing ??= close()),
  };
}

/** The process: parse, start, print one line, stop on a signal. Resolves to nothing; sets exitCode. */
async function run(): Promise<void> {
  let config: ServerConfig;
  let logger: Logger;
  try {
    config = parseConfig(process.env);
    logger = await createServerLogger(config.logLevel, config.logFormat);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exitCode = error.exitCode;
    return;
  }
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection'));
  let server: RunningServer;
  try {
    server = await startServer(config, logger);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`cannot start: ${message}\n`);
    process.exitCode = error instanceof ConfigError ? error.exitCode : 1;
    return;
  }
  const mode = server.auth === 'open' ? 'open (no auth) on loopback: the local principal acts as user and service' : 'bearer tokens required';
  const simulated = server.simulator === undefined ? 'simulator off' : 'simulator on';
  process.stdout.write(`essay lifecycle server listening on ${server.url} (${mode}; ${simulated}; store ${describeStore(config.store)})\n`);
  let stopping = false;
  const stop = (signal: string, code: number) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal during shutdown: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(code),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT', 0));
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception');
    stop('uncaughtException', 1);
  });
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === import.meta.url;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  run().catch((error: unknown) => {
    process.stderr.write(`fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
}
