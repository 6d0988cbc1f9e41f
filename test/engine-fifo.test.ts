/** The cascade's queue (adapters/engine/fifo.ts): first in, first out, across its compaction. */
import { describe, expect, it } from 'vitest';
import { Fifo } from '../adapters/engine/fifo.js';

describe('Fifo', () => {
  it('takes items in the order they were pushed, across pushes between takes and past the compaction of taken slots', () => {
    const fifo = new Fifo<number>();
    const taken: number[] = [];
    let next = 0;
    // Push 3, take 2, many times: the queue grows while the taken slots pass the 1,024 compaction point several times.
    for (let round = 0; round < 3000; round += 1) {
      for (let k = 0; k < 3; k += 1) fifo.push(next++);
      for (let k = 0; k < 2; k += 1) taken.push(fifo.shift() as number);
    }
    expect(fifo.length).toBe(3000);
    expect(fifo.peek(3)).toEqual([6000, 6001, 6002]);
    while (fifo.length > 0) taken.push(fifo.shift() as number);
    expect(taken).toEqual(Array.from({ length: 9000 }, (_, k) => k));
    expect(fifo.shift()).toBeUndefined();
  });

  it('peek returns at most what is queued, oldest first, and removes nothing', () => {
    const fifo = new Fifo<string>();
    expect(fifo.peek(5)).toEqual([]);
    fifo.push('a');
    fifo.push('b');
    expect([fifo.peek(5), fifo.peek(1), fifo.peek(-1), fifo.length]).toEqual([['a', 'b'], ['a'], [], 2]);
  });
});
