/**
 * The lean JSON reader (adapters/http/json-body.ts) against express.json itself: the same corpus
 * of bodies through both, behind the same error handler, must give the same answers (status and
 * body), and the lean reader must actually have read the common ones.
 */
import express, { type RequestHandler } from 'express';
import { pino } from 'pino';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { errorHandler } from '../../adapters/http/errors.js';
import { leanJsonBody } from '../../adapters/http/json-body.js';

const LIMIT = 200;

/** An app that parses with `parse` and echoes what it parsed. */
function echo(parse: RequestHandler): express.Express {
  const app = express();
  app.post('/', parse, (req, res) => {
    res.json({ body: req.body as unknown });
  });
  app.use(errorHandler(pino({ level: 'silent' })));
  return app;
}

interface Sample {
  readonly name: string;
  readonly type: string;
  readonly body: string | Buffer;
  readonly headers?: Record<string, string>;
}

const CORPUS: readonly Sample[] = [
  { name: 'an object', type: 'application/json', body: '{"a":1,"b":[true,null,"é"]}' },
  { name: 'an array', type: 'application/json', body: '[1,2]' },
  { name: 'whitespace before the object', type: 'application/json', body: ' \t\r\n{"a":1}' },
  { name: 'a UTF-8 BOM', type: 'application/json', body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}')]) },
  { name: 'an explicit UTF-8 charset', type: 'application/json; charset=utf-8', body: '{"a":2}' },
  { name: 'an upper-case UTF-8 charset', type: 'application/json; charset=UTF-8', body: '{"a":3}' },
  { name: 'a string (strict)', type: 'application/json', body: '"text"' },
  { name: 'a number (strict)', type: 'application/json', body: ' 42' },
  { name: 'malformed JSON', type: 'application/json', body: '{"a": nope' },
  { name: 'whitespace only', type: 'application/json', body: '   ' },
  { name: 'an empty body', type: 'application/json', body: '' },
  { name: 'over the limit', type: 'application/json', body: `{"pad":"${'x'.repeat(LIMIT)}"}` },
  { name: 'exactly the limit', type: 'application/json', body: `{"pad":"${'x'.repeat(LIMIT - 10)}"}` },
  { name: 'invalid UTF-8 bytes', type: 'application/json', body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]) },
  { name: 'a latin1 charset', type: 'application/json; charset=latin1', body: '{"a":4}' },
  { name: 'a +json type', type: 'application/vnd.api+json', body: '{"a":5}' },
];

describe('the lean JSON body reader', () => {
  it('answers every body of the corpus exactly as express.json does, and reads the common ones itself', async () => {
    const json = express.json({ limit: LIMIT, strict: true, type: ['application/json', 'application/*+json'] });
    let fellBack = 0;
    const counted: RequestHandler = (req, res, next) => {
      fellBack += 1;
      void json(req, res, next);
    };
    const lean = echo(leanJsonBody(LIMIT, counted));
    const plain = echo(json);
    for (const sample of CORPUS) {
      const send = (app: express.Express) => request(app).post('/').set('Content-Type', sample.type).send(sample.body);
      const [expected, actual] = [await send(plain), await send(lean)];
      expect({ status: actual.status, body: actual.text }, sample.name).toEqual({ status: expected.status, body: expected.text });
    }
    // Only the latin1 charset and the +json type are not the lean case.
    expect(fellBack).toBe(2);
  });

  it('answers 413 for a declared length over the limit without reading the body into memory, and the connection stays usable', async () => {
    const lean = echo(leanJsonBody(LIMIT, express.json({ limit: LIMIT })));
    const agent = request.agent(lean);
    const big = await agent.post('/').set('Content-Type', 'application/json').send(`{"pad":"${'x'.repeat(10 * LIMIT)}"}`);
    expect(big.status).toBe(413);
    expect(big.body).toMatchObject({ code: 'LIMIT_EXCEEDED', details: { limit: 'body_bytes', max_bytes: LIMIT } });
    const small = await agent.post('/').set('Content-Type', 'application/json').send('{"a":1}');
    expect(small.body).toEqual({ body: { a: 1 } });
  });
});
