/**
 * The request log line (adapters/http/logging.ts) is the line pino-http wrote with the options
 * this package used before: the reference below is that pino-http set-up, and the same requests
 * through both must log the same lines (same keys, order, levels and messages).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import express, { type RequestHandler, type Response } from 'express';
import { pino, type LevelWithSilent, type Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { principalOf } from '../../adapters/http/guard.js';
import { requestLogging } from '../../adapters/http/logging.js';

/** pino-http as the package set it up before (the reference). */
function pinoHttpReference(logger: Logger, newId: () => string): RequestHandler {
  const answered = (res: ServerResponse): boolean => res.writableFinished;
  const levelOf = (res: ServerResponse): LevelWithSilent => (res.statusCode >= 500 ? 'error' : res.statusCode >= 400 || !answered(res) ? 'warn' : 'info');
  const middleware = pinoHttp<IncomingMessage, ServerResponse, never>({
    logger,
    genReqId: (req, res) => {
      const header = req.headers['x-request-id'];
      const id = typeof header === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(header) ? header : newId();
      res.setHeader('X-Request-ID', id);
      return id;
    },
    customLogLevel: (_req, res) => (logger.isLevelEnabled(levelOf(res)) ? levelOf(res) : 'silent'),
    customSuccessMessage: (_req, res) => (answered(res) ? 'request completed' : 'request aborted'),
    customSuccessObject: (_req, res, fields: object) => ({ ...fields, principal: principalOf(res as Response)?.user_id ?? null }),
    customErrorObject: (_req, res, _error, fields: object) => ({ ...fields, principal: principalOf(res as Response)?.user_id ?? null }),
    serializers: {
      req: (req: { raw?: IncomingMessage & { originalUrl?: string }; id?: unknown; method?: string; url?: string }) => {
        const [path = '/'] = (req.raw?.originalUrl ?? req.url ?? '/').split('?');
        return { id: req.id, method: req.method, url: path.length > 200 ? `${path.slice(0, 200)}…` : path };
      },
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
    },
  });
  return (req, res, next) => middleware(req, res, next);
}

/** An app that logs with `logging` and answers `?status=` (as `?user=` when given). */
function app(logging: (logger: Logger, newId: () => string) => RequestHandler, level: string): { app: express.Express; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'));
      callback();
    },
  });
  let ids = 0;
  const served = express();
  served.use(logging(pino({ level }, sink), () => `id-${(ids += 1)}`));
  served.use((req, res) => {
    const user = req.query.user;
    if (typeof user === 'string') (res.locals as { principal?: unknown }).principal = { user_id: user };
    res.status(Number(req.query.status ?? 200)).json({ ok: true });
  });
  return { app: served, lines };
}

/** A line without the error's stack (it names the file that made the error). */
function withoutStack(line: string): unknown {
  const parsed = JSON.parse(line) as { err?: { stack?: string } };
  if (parsed.err !== undefined) delete parsed.err.stack;
  return parsed;
}

describe('the request log line', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-03-01T12:00:00.000Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each(['debug', 'warn', 'silent'])('is the line pino-http wrote, at level %s', async (level) => {
    const ours = app(requestLogging, level);
    const reference = app(pinoHttpReference, level);
    const paths = ['/a?status=200&user=teacher-1', '/b?status=404', '/c/d?status=500&user=svc&token=secret', `/${'x'.repeat(300)}?status=201`];
    for (const path of paths) {
      for (const target of [ours, reference]) {
        await request(target.app).get(path).set('X-Request-ID', 'caller-1');
        await request(target.app).post(path).set('X-Request-ID', 'not a token!');
      }
    }
    expect(ours.lines.map(withoutStack)).toEqual(reference.lines.map(withoutStack));
    expect(ours.lines).toHaveLength({ debug: 8, warn: 4, silent: 0 }[level] ?? -1);
  });
});
