/**
 * Retention on PostgreSQL (issue #20): `prune` deletes published outbox rows and inbox keys past
 * their cutoffs in one statement, and keeps unpublished rows and younger keys.
 */
import { afterAll, expect, it } from 'vitest';
import { openPostgresStore } from '../../adapters/postgres/store.js';
import { describePostgres, dropAllSchemas, freshSchema, url } from './support.js';

const T0 = '2026-03-01T12:00:00.000Z';
const T1 = '2026-03-09T12:00:00.000Z';

afterAll(dropAllSchemas);

describePostgres('PostgreSQL prune', () => {
  it('deletes outbox rows published before the cutoff and inbox keys received before it; keeps the rest', async () => {
    let now = T0;
    const store = await openPostgresStore({ connectionString: url(), schema: await freshSchema(false), poolSize: 1, now: () => new Date(now) });
    const row = (event_id: string) => ({ event_id, event_type: 't', aggregate_id: 'b', envelope: { event_id }, internal: false });
    const empty = { entities: [], audit: [], timersSet: [], timersCancelled: [], timersFired: [] };
    await store.commit({ ...empty, outbox: [row('old-published'), row('old-pending')], inbox: [{ event_id: 'old', event_type: 't', result: {} }] });
    const [published] = await store.pendingOutbox(1);
    await store.markPublished([published!.id], T0);
    now = T1;
    await store.commit({ ...empty, outbox: [row('new')], inbox: [{ event_id: 'new', event_type: 't', result: {} }] });
    const [newRow] = (await store.pendingOutbox(10)).filter((r) => r.event_id === 'new');
    await store.markPublished([newRow!.id], T1);
    expect(await store.prune({ outboxPublishedBefore: '2026-03-05T00:00:00.000Z', inboxBefore: '2026-03-05T00:00:00.000Z' })).toEqual({ outbox: 1, inbox: 1 });
    expect((await store.pendingOutbox(10)).map((r) => r.event_id)).toEqual(['old-pending']);
    expect([...(await store.findInbox(['old', 'new'])).keys()]).toEqual(['new']);
    await store.close();
  });
});
