import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { content } from '../support/envelopes.js';
import { bearer, makeHarness, pluck, readyBatch, registerBatch } from './support.js';

describe('read routes', () => {
  it('GET /batches/:id/essays and GET /essays/:id show the essays of the batch with their status', async () => {
    const h = makeHarness();
    const { batch_id, essay_ids } = await readyBatch(h);
    const list = await request(h.app).get(`/batches/${batch_id}/essays`).set(bearer('owner'));
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({ batch_id, limit: 1000, offset: 0 });
    expect(pluck(list.body.essays, 'essay_id').sort()).toEqual([...essay_ids].sort());
    expect(list.body.essays[0]).toMatchObject({ batch_id, status: 'ready_for_processing' });
    const paged = await request(h.app).get(`/batches/${batch_id}/essays?limit=1&offset=1`).set(bearer('owner'));
    expect(paged.body.essays).toHaveLength(1);
    const one = await request(h.app).get(`/essays/${essay_ids[0]}`).set(bearer('owner'));
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ essay_id: essay_ids[0], batch_id, status: 'ready_for_processing' });
  });

  it('GET /entities/:machine/:id/history answers the audit rows in order, paged by position', async () => {
    const h = makeHarness();
    const { batch_id, essay_ids } = await readyBatch(h);
    const batch = await request(h.app).get(`/entities/batch/${batch_id}/history`).set(bearer('owner'));
    expect(batch.status).toBe(200);
    expect(pluck(batch.body.rows, 'to_status')).toEqual(['awaiting_content_validation', 'ready_for_pipeline_execution']);
    const page = await request(h.app).get(`/entities/batch/${batch_id}/history?limit=1&after=${batch.body.rows[0].position}`).set(bearer('owner'));
    expect(page.body.rows).toHaveLength(1);
    expect(page.body.rows[0].to_status).toBe('ready_for_pipeline_execution');
    const essay = await request(h.app).get(`/entities/essay/${essay_ids[0]}/history`).set(bearer('owner'));
    expect(pluck(essay.body.rows, 'event_type')).toEqual(['huleedu.els.essay.slot.created.v1', 'huleedu.els.essay.slot.assigned.v1']);
    const tracker = await request(h.app).get(`/entities/batch_tracker/${batch_id}/history`).set(bearer('owner'));
    expect(tracker.body.rows.length).toBeGreaterThan(0);
  });

  it('history answers 404 for an unknown machine or essay, and hides content of an unregistered batch from users', async () => {
    const h = makeHarness();
    expect((await request(h.app).get('/entities/nope/x/history').set(bearer('owner'))).status).toBe(404);
    expect((await request(h.app).get('/entities/essay/missing/history').set(bearer('owner'))).status).toBe(404);
    expect((await request(h.app).post('/events').set(bearer('service')).send(content('early-batch', 'text-1'))).status).toBe(200);
    expect((await request(h.app).get('/entities/batch_tracker/early-batch/history').set(bearer('owner'))).status).toBe(404);
    const admin = await request(h.app).get('/entities/batch_tracker/early-batch/history').set(bearer('admin'));
    expect(admin.status).toBe(200);
    expect(admin.body.rows).toHaveLength(1);
  });

  it('GET /batches lists only the batches the caller may read, filtered by status and paged', async () => {
    const h = makeHarness();
    const mine = await readyBatch(h, 'owner');
    const pending = await registerBatch(h, 'owner');
    const theirs = await registerBatch(h, 'other');
    const owner = await request(h.app).get('/batches').set(bearer('owner'));
    expect(owner.status).toBe(200);
    expect(pluck(owner.body.batches, 'batch_id').sort()).toEqual([mine.batch_id, pending.batch_id].sort());
    const ready = await request(h.app).get('/batches?status=ready_for_pipeline_execution').set(bearer('owner'));
    expect(ready.body.batches).toHaveLength(1);
    expect(ready.body.batches[0]).toMatchObject({ batch_id: mine.batch_id, client_status: 'ready', user_id: 'teacher-1' });
    const colleague = await request(h.app).get('/batches').set(bearer('colleague'));
    expect(colleague.body.batches).toHaveLength(2);
    const other = await request(h.app).get('/batches').set(bearer('other'));
    expect(pluck(other.body.batches, 'batch_id')).toEqual([theirs.batch_id]);
    const admin = await request(h.app).get('/batches?limit=2&offset=1').set(bearer('admin'));
    expect(admin.body).toMatchObject({ limit: 2, offset: 1 });
    expect(admin.body.batches).toHaveLength(2);
    const bad = await request(h.app).get('/batches?status=sleeping&limit=0').set(bearer('owner'));
    expect(bad.status).toBe(400);
    expect(pluck(bad.body.details.issues, 'path').sort()).toEqual(['limit', 'status']);
  });

  it('GET /counts answers entities per machine and status', async () => {
    const h = makeHarness();
    await readyBatch(h);
    const res = await request(h.app).get('/counts').set(bearer('other'));
    expect(res.status).toBe(200);
    expect(res.body.by_machine).toEqual({ batch: { ready_for_pipeline_execution: 1 }, batch_tracker: { content_provisioned: 1 }, essay: { ready_for_processing: 2 } });
    expect(res.body.counts).toContainEqual({ machine: 'essay', status: 'ready_for_processing', count: 2 });
  });
});

describe('machine routes', () => {
  it('GET /machines lists the engine machines without credentials', async () => {
    const h = makeHarness();
    const res = await request(h.app).get('/machines');
    expect(res.status).toBe(200);
    expect(pluck(res.body.machines, 'id').sort()).toEqual(['associations', 'batch', 'batch_tracker', 'essay']);
  });

  it('GET /machines/:name answers JSON by default and SVG for ?format=svg or Accept: image/svg+xml', async () => {
    const h = makeHarness();
    const json = await request(h.app).get('/machines/essay');
    expect(json.status).toBe(200);
    expect(json.body).toMatchObject({ id: 'essay', version: 1 });
    expect(Object.keys(json.body.definition.states as object)).toContain('spellchecked_success');
    const svg = await request(h.app).get('/machines/batch?format=svg&active=ready_for_pipeline_execution');
    expect(svg.status).toBe(200);
    expect(svg.headers['content-type']).toContain('image/svg+xml');
    const text = Buffer.isBuffer(svg.body) ? svg.body.toString('utf8') : svg.text;
    expect(text).toContain('<svg');
    const plain = await request(h.app).get('/machines/batch?format=svg');
    const plainText = Buffer.isBuffer(plain.body) ? plain.body.toString('utf8') : plain.text;
    expect(plainText).not.toEqual(text);
    const accepted = await request(h.app).get('/machines/batch').set('Accept', 'image/svg+xml');
    expect(accepted.headers['content-type']).toContain('image/svg+xml');
  });

  it('answers 404 for an unknown machine and 400 for an unknown format', async () => {
    const h = makeHarness();
    expect((await request(h.app).get('/machines/teapot')).status).toBe(404);
    expect((await request(h.app).get('/machines/essay?format=png')).status).toBe(400);
  });

  it('answers unknown routes with a JSON 404', async () => {
    const h = makeHarness();
    const res = await request(h.app).get('/nothing/here');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ code: 'ROUTE_NOT_FOUND' });
  });
});

describe('createApp', () => {
  it('serves the demo page from staticDir, behind the same headers and logging', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifecycle-static-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>demo</title>');
    const h = makeHarness({ staticDir: dir });
    const res = await request(h.app).get('/');
    expect(res.status).toBe(200);
    expect(res.text).toContain('<title>demo</title>');
    expect(res.headers['x-request-id']).toBeDefined();
    expect((await request(h.app).get('/missing.js')).status).toBe(404);
  });
});
