/**
 * Every bad URL is the client's mistake: malformed percent-encoding, bytes that are not UTF-8, an
 * encoded lone surrogate, junk of any kind in a path parameter. Each answers 4xx with a clear
 * message and is never logged at error level.
 */
import { fc } from '@fast-check/vitest';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { propertyRuns } from '../property/runs.js';
import { bearer, makeHarness } from './support.js';

const TEMPLATES = ['/machines/{}', '/batches/{}', '/batches/{}/essays', '/essays/{}', '/entities/batch/{}/history', '/entities/{}/x/history'] as const;
const WRITE_TEMPLATES = ['/batches/{}/close', '/batches/{}/cancel', '/batches/{}/pipelines'] as const;

function errorLines(logs: readonly string[]): string[] {
  return logs.filter((line) => (JSON.parse(line) as { level: number }).level >= 50);
}

describe('bad URLs', () => {
  for (const path of ['/machines/%FF', '/batches/%FF', '/batches/%ED%A0%80', '/entities/batch/%ED%A0%80/history', '/essays/%E0%A4%A']) {
    it(`GET ${path} answers 400 INVALID_REQUEST naming the encoding, logged below error level`, async () => {
      const h = makeHarness();
      const res = await request(h.app).get(path).set(bearer('owner'));
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringContaining('percent-encoded UTF-8') });
      expect(errorLines(h.logs)).toEqual([]);
    });
  }

  it('a POST with a malformed id answers 400 too', async () => {
    const h = makeHarness();
    const res = await request(h.app).post('/batches/%C0%AF/close').set(bearer('owner')).send({});
    expect(res.status).toBe(400);
  });

  it('fuzz: any path parameter (raw or percent junk) answers 4xx (or 200 for an id that happens to exist), never 5xx', async () => {
    const h = makeHarness();
    const junk = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }).map((text) => encodeURIComponent(text)),
      fc.array(fc.oneof(fc.constantFrom('%', '%F', '%FF', '%ED%A0%80', '%00', '%2F', '..', '.', '~', '%25'), fc.string({ unit: fc.constantFrom(...'0123456789ABCDEFabcdefxyz'), maxLength: 3 })), { maxLength: 12 }).map((parts) => parts.join('')),
      fc.string({ maxLength: 300 }).map((text) => encodeURIComponent(text)),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...TEMPLATES, ...WRITE_TEMPLATES), junk, async (template, param) => {
        const path = template.replace('{}', param === '' ? '%20' : param);
        const write = (WRITE_TEMPLATES as readonly string[]).includes(template);
        const res = write ? await request(h.app).post(path).set(bearer('owner')).send({}) : await request(h.app).get(path).set(bearer('owner'));
        expect(res.status, `${path}: ${JSON.stringify(res.body)}`).toBeLessThan(500);
      }),
      { numRuns: propertyRuns(300) },
    );
    expect(errorLines(h.logs)).toEqual([]);
  });
});
