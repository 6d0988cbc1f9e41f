/**
 * A lean reader for the common JSON body: `Content-Type: application/json` (charset absent or
 * UTF-8), a Content-Length, no Content-Encoding. It reads the bytes itself and parses them the way
 * express.json does (strict: an object or an array; an empty body is `{}`; a UTF-8 BOM dropped),
 * and it fails with the same body-parser-shaped errors (`type` entity.too.large, entity.parse.failed,
 * request.aborted, request.size.invalid), so errors.ts answers them as before. Any other request
 * (another charset, a content encoding, chunked transfer) goes to express.json itself.
 */
import type { IncomingMessage } from 'node:http';
import type { RequestHandler } from 'express';

const LEAN_TYPES = new Set(['application/json', 'application/json; charset=utf-8']);

/** An error as body-parser raises it (errors.ts translates it by `type`). */
function bodyError(status: number, message: string, type: string, fields: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { status, statusCode: status, expose: true, type, ...fields });
}

/** The body is read off to its end (so the connection stays usable), then `then` runs. */
function dump(req: IncomingMessage, then: () => void): void {
  if (req.readableEnded) return then();
  req.once('end', then);
  req.once('close', then);
  req.resume();
}

/** JSON's whitespace: space, tab, line feed, carriage return. */
const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

function firstNonWhitespace(text: string): number {
  let index = 0;
  while (index < text.length && WHITESPACE.has(text.charCodeAt(index))) index += 1;
  return index;
}

/** Strict JSON as express.json parses it: empty -> {}; the first character must open an object or array. */
function parseStrict(text: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.length === 0) return {};
  const first = body[firstNonWhitespace(body)];
  if (first !== '{' && first !== '[') throw bodyError(400, 'Unexpected token in JSON', 'entity.parse.failed');
  try {
    return JSON.parse(body) as unknown;
  } catch (error) {
    throw bodyError(400, error instanceof Error ? error.message : 'invalid JSON', 'entity.parse.failed');
  }
}

function isLean(req: IncomingMessage): boolean {
  const type = req.headers['content-type'];
  return (
    req.headers['content-encoding'] === undefined &&
    req.headers['transfer-encoding'] === undefined &&
    req.headers['content-length'] !== undefined &&
    type !== undefined &&
    LEAN_TYPES.has(type.toLowerCase()) &&
    req.readable &&
    req.socket.writable
  );
}

/** Reads the body of `req` (at most `limit` bytes) and calls `done` with the error or the text. */
function readText(req: IncomingMessage, length: number, limit: number, done: (error: Error | undefined, text?: string) => void): void {
  const chunks: Buffer[] = [];
  let received = 0;
  let settled = false;
  const finish = (error: Error | undefined, text?: string): void => {
    if (settled) return;
    settled = true;
    req.removeListener('data', onData);
    req.removeListener('end', onEnd);
    req.removeListener('aborted', onAborted);
    req.removeListener('error', onError);
    if (error === undefined) return done(undefined, text);
    dump(req, () => done(error));
  };
  const onData = (chunk: Buffer): void => {
    received += chunk.length;
    if (received > limit) finish(bodyError(413, 'request entity too large', 'entity.too.large', { limit, length: received }));
    else chunks.push(chunk);
  };
  const onEnd = (): void => {
    if (received !== length) finish(bodyError(400, 'request size did not match content length', 'request.size.invalid', { expected: length, length: received }));
    else finish(undefined, (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received)).toString('utf8'));
  };
  const onAborted = (): void => finish(bodyError(400, 'request aborted', 'request.aborted', { expected: length, length: received }));
  const onError = (error: Error): void => finish(bodyError(400, error.message, 'request.aborted'));
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('aborted', onAborted);
  req.on('error', onError);
}

/** express.json for the lean case (see the module comment), `fallback` (express.json itself) for the rest. */
export function leanJsonBody(limit: number, fallback: RequestHandler): RequestHandler {
  return (req, res, next) => {
    const length = Number(req.headers['content-length']);
    if (!isLean(req) || !Number.isSafeInteger(length) || length < 0) {
      void fallback(req, res, next);
      return;
    }
    if (length > limit) {
      dump(req, () => next(bodyError(413, 'request entity too large', 'entity.too.large', { limit, length })));
      return;
    }
    readText(req, length, limit, (error, text) => {
      if (error !== undefined) {
        next(error);
        return;
      }
      let body: unknown;
      try {
        body = parseStrict(text ?? '');
      } catch (failure) {
        next(failure);
        return;
      }
      req.body = body;
      next();
    });
  };
}
