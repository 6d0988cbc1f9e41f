/** Producers of the embedded queue: one envelope at a time (the HTTP layer) or the lines of a JSONL text. */
import { LifecycleError } from '../../errors.js';
import { messageOf } from '../support.js';
import type { EmbeddedQueue } from './queue.js';

/** A producer function for the HTTP layer: enqueues one envelope and answers its row id. */
export function queueProducer(queue: EmbeddedQueue): (envelope: unknown) => Promise<{ queued: true; queue_id: number }> {
  return async (envelope) => {
    const [id] = await queue.enqueue([envelope]);
    if (id === undefined) throw new LifecycleError('STORE_FAILURE', 'enqueue returned no id');
    return { queued: true, queue_id: id };
  };
}

/** A JSONL line that could not be enqueued. */
export interface RejectedLine {
  readonly line: number;
  readonly error: string;
}

/**
 * Enqueues the lines of a JSONL text (blank lines skipped) in order, for `replay`-style loading.
 * Lines that are not JSON are reported with their 1-based line number and not enqueued.
 */
export async function enqueueJsonl(queue: EmbeddedQueue, text: string): Promise<{ ids: number[]; rejected: RejectedLine[] }> {
  const items: unknown[] = [];
  const rejected: RejectedLine[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim().length === 0) return;
    try {
      items.push(JSON.parse(line) as unknown);
    } catch (error) {
      rejected.push({ line: index + 1, error: messageOf(error) });
    }
  });
  return { ids: await queue.enqueue(items), rejected };
}
