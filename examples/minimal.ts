/**
 * The smallest embedding: open SQLite, dispatch a registration, read the batch's state.
 * Run it with `npx tsx examples/minimal.ts`; `npm test` runs it too (test/examples.test.ts).
 */
import { randomUUID } from 'node:crypto';
import { LifecycleEngine, LifecycleQueries } from '../index.js';
import { openSqliteStore } from '../adapters/sqlite/index.js';

export async function main(path = ':memory:'): Promise<string | undefined> {
  const store = openSqliteStore({ path });
  const engine = new LifecycleEngine({ store });
  const result = await engine.dispatch({
    event_id: randomUUID(),
    event_type: 'huleedu.batch.essays.registered.v1',
    event_timestamp: new Date().toISOString(),
    source_service: 'example',
    correlation_id: randomUUID(),
    data: { entity_id: 'batch-1', expected_essay_count: 2, essay_ids: ['essay-1', 'essay-2'], course_code: 'ENG5', user_id: 'teacher-1' },
  });
  const batch = await new LifecycleQueries(store).entity('batch', 'batch-1');
  await store.close();
  return `${result.outcome}: batch-1 is ${batch?.status}`;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await main());
