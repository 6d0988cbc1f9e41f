/**
 * Review: the engine reads the inbox once, before an event's entity reads. Another worker may commit
 * the same event in between and leave rows this engine cannot apply (in a rolling deploy, a newer
 * machine version; here, an unreadable row). Taking the event then fails, and `dispatch` threw or
 * `dispatchMany` answered `deferred` (holding back the rest of the batch) for what is a duplicate.
 * The race is forced: the store answers "not seen" to every inbox read until this engine reads an
 * entity, the moment the other worker's commit lands.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { engineOn, guestBatch, openFileStore, removeTempDirs, tempDir } from '../support/reliability-kit.js';

afterAll(removeTempDirs);

/** A store on which `content` was taken, its batch row now unreadable, and the inbox blind until the first entity read. */
async function raced(label: string) {
  const store = openFileStore(join(tempDir(`regression-${label}-`), 'db.sqlite'));
  const engine = engineOn(store);
  const [registered, content] = guestBatch(label, `${label}-batch`, 1);
  await engine.dispatch(registered);
  const first = await engine.dispatch(content);
  store.db.prepare(`UPDATE entities SET snapshot = '{broken' WHERE entity_id = '${label}-batch'`).run();
  let committed = false;
  const seam = store as unknown as Record<'load' | 'loadMany' | 'findInbox', (...args: unknown[]) => Promise<unknown>>;
  for (const name of ['load', 'loadMany'] as const) {
    const read = seam[name].bind(store);
    seam[name] = (...args) => {
      committed = true;
      return read(...args);
    };
  }
  const findInbox = seam.findInbox.bind(store);
  seam.findInbox = (...args) => (committed ? findInbox(...args) : Promise.resolve(new Map()));
  return { store, content, first, fresh: engineOn(store) };
}

describe('regression: an event another worker committed between the inbox read and the entity reads', () => {
  it('dispatch answers duplicate with the first outcome instead of throwing the unreadable row', async () => {
    const { store, content, first, fresh } = await raced('raced-dispatch');
    const answer = await fresh.dispatch(content);
    await store.close();
    expect(first.outcome).toBe('accepted');
    expect(answer).toMatchObject({ outcome: 'duplicate', first_outcome: 'accepted', to: first.to });
  });

  it('dispatchMany answers duplicate instead of deferred, and writes nothing for it', async () => {
    const { store, content, first, fresh } = await raced('raced-many');
    const audit = (): number => (store.db.prepare('SELECT count(*) AS n FROM audit').get() as { n: number }).n;
    const before = audit();
    const [answer] = await fresh.dispatchMany([content]);
    const after = audit();
    await store.close();
    expect(answer).toMatchObject({ outcome: 'duplicate', first_outcome: 'accepted', to: first.to });
    expect(after).toBe(before);
  });
});
