import { get, type ClientRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { StreamRow } from '../../adapters/http/sse.js';
import { bearer, makeHarness, provisionContent, registerBatch, type Harness, type HarnessOptions, type Who } from './support.js';

/** One open event stream: its status and the frames received so far. */
interface StreamClient {
  readonly status: number;
  readonly body: () => string;
  readonly rows: () => StreamRow[];
  /** Resolves once `predicate` holds on the text received (bounded wait, no sleeping). */
  readonly until: (predicate: (text: string) => boolean, timeoutMs?: number) => Promise<void>;
  readonly close: () => void;
  readonly ended: Promise<void>;
}

const servers: Server[] = [];
const clients: ClientRequest[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

async function listen(h: Harness): Promise<number> {
  const server = h.app.listen(0, '127.0.0.1');
  servers.push(server);
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  return (server.address() as AddressInfo).port;
}

function connect(port: number, who: Who | undefined): Promise<StreamClient> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/stream', headers: who === undefined ? {} : bearer(who) }, (res: IncomingMessage) => {
      let text = '';
      const waiters = new Set<() => void>();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        for (const wake of waiters) wake();
      });
      const ended = new Promise<void>((done) => res.once('end', () => done()));
      resolve({
        status: res.statusCode ?? 0,
        body: () => text,
        rows: () =>
          text
            .split('\n\n')
            .filter((frame) => /(^|\n)event: transition\n/.test(frame))
            .map((frame) => JSON.parse(frame.slice(frame.indexOf('data: ') + 6)) as StreamRow),
        until: (predicate, timeoutMs = 2_000) =>
          new Promise<void>((done, fail) => {
            const check = () => {
              if (!predicate(text)) return;
              clearTimeout(timer);
              waiters.delete(check);
              done();
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`stream did not receive the expected frames within ${timeoutMs} ms; got:\n${text}`));
            }, timeoutMs);
            waiters.add(check);
            check();
          }),
        close: () => req.destroy(),
        ended,
      });
    });
    clients.push(req);
    req.on('error', (error) => (error.message.includes('socket hang up') || error.message.includes('aborted') ? undefined : reject(error)));
  });
}

async function harnessWithServer(options: HarnessOptions = {}): Promise<{ h: Harness; port: number }> {
  const h = makeHarness(options);
  return { h, port: await listen(h) };
}

describe('GET /stream', () => {
  it('sends the owner every committed transition of its batch, and another owner none of them', async () => {
    const { h, port } = await harnessWithServer();
    const owner = await connect(port, 'owner');
    const other = await connect(port, 'other');
    expect(owner.status).toBe(200);
    await owner.until((text) => text.includes(': connected'));
    await other.until((text) => text.includes(': connected'));

    const { batch_id, essay_ids } = await registerBatch(h, 'owner');
    await provisionContent(h, batch_id, 2);
    await owner.until((text) => text.includes('"to_status":"ready_for_pipeline_execution"'));
    const rows = owner.rows();
    expect(rows.every((row) => row.batch_id === batch_id)).toBe(true);
    expect(rows.filter((row) => row.machine === 'batch').map((row) => row.to_status)).toEqual(['awaiting_content_validation', 'ready_for_pipeline_execution']);
    expect(new Set(rows.filter((row) => row.machine === 'essay').map((row) => row.entity_id))).toEqual(new Set(essay_ids));
    expect(rows[0]).not.toHaveProperty('envelope');

    // Frames arrive in commit order: once the other owner sees its own batch, it has been
    // offered every earlier row, so an absence of the first batch's rows is conclusive.
    const theirs = await registerBatch(h, 'other');
    await other.until((text) => text.includes(theirs.batch_id));
    expect(other.rows().length).toBeGreaterThan(0);
    expect(other.rows().every((row) => row.batch_id === theirs.batch_id)).toBe(true);
    expect(other.body()).not.toContain(batch_id);
  });

  it('lets an admin see every batch', async () => {
    const { h, port } = await harnessWithServer();
    const admin = await connect(port, 'admin');
    await admin.until((text) => text.includes(': connected'));
    const { batch_id } = await registerBatch(h, 'owner');
    await admin.until((text) => text.includes(batch_id));
  });

  it('answers 401 without credentials', async () => {
    const { port } = await harnessWithServer();
    const anonymous = await connect(port, undefined);
    expect(anonymous.status).toBe(401);
    await anonymous.ended;
    expect(JSON.parse(anonymous.body())).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('answers 503 LIMIT_EXCEEDED when the subscriber cap is reached, and admits again after one leaves', async () => {
    const { port } = await harnessWithServer({ limits: { streamSubscribers: 1 } });
    const first = await connect(port, 'owner');
    expect(first.status).toBe(200);
    const second = await connect(port, 'other');
    expect(second.status).toBe(503);
    await second.ended;
    expect(JSON.parse(second.body())).toMatchObject({ code: 'LIMIT_EXCEEDED', details: { limit: 'subscribers', max_subscribers: 1 } });
    first.close();
    // The server notices the closed socket asynchronously: retry a bounded number of times.
    let third = await connect(port, 'other');
    for (let attempt = 0; third.status !== 200 && attempt < 50; attempt += 1) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      third = await connect(port, 'other');
    }
    expect(third.status).toBe(200);
  });

  it('sends heartbeat comments at the configured interval', async () => {
    const { port } = await harnessWithServer({ limits: { streamHeartbeatMs: 20 } });
    const client = await connect(port, 'owner');
    await client.until((text) => text.includes(': heartbeat '));
  });

  it('drain ends every open stream', async () => {
    const { h, port } = await harnessWithServer();
    const client = await connect(port, 'owner');
    await client.until((text) => text.includes(': connected'));
    await (h.app.locals as { drain: () => Promise<void> }).drain();
    await client.ended;
  });
});
