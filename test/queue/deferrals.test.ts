/**
 * The NATS handler's record of messages handed back because the engine deferred them: a batch
 * with a message waiting is applied again only from its oldest waiting message, in stream order;
 * other batches are never held up.
 */
import { describe, expect, it } from 'vitest';
import { Deferrals } from '../../adapters/queue/nats/deferrals.js';

const msg = (key: string | null, seq: number): { key: string | null; seq: number } => ({ key, seq });
const seqs = (items: ReadonlyArray<{ seq: number }>): number[] => items.map((item) => item.seq);

describe('NATS deferrals', () => {
  it('with nothing waiting every message is applied, in stream order', () => {
    const { apply, wait } = new Deferrals().split([msg('b', 3), msg('a', 1), msg('a', 2)]);
    expect(seqs(apply)).toEqual([1, 2, 3]);
    expect(wait).toEqual([]);
  });

  it('a newer message of a batch with a waiting message waits too; other batches go on', () => {
    const deferrals = new Deferrals();
    deferrals.defer('a', 1);
    const { apply, wait } = deferrals.split([msg('a', 4), msg('b', 5)]);
    expect(seqs(apply)).toEqual([5]);
    expect(seqs(wait)).toEqual([4]);
  });

  it('the oldest waiting message reopens its batch: it and the newer ones of the group are applied in order', () => {
    const deferrals = new Deferrals();
    deferrals.defer('a', 1);
    deferrals.defer('a', 4);
    expect(seqs(deferrals.split([msg('a', 4), msg('a', 1), msg('a', 6)]).apply)).toEqual([1, 4, 6]);
  });

  it('a waiting message left out of the group holds back the newer ones that came back without it', () => {
    const deferrals = new Deferrals();
    deferrals.defer('a', 1);
    deferrals.defer('a', 3);
    const { apply, wait } = deferrals.split([msg('a', 3), msg('a', 7)]);
    expect(apply).toEqual([]);
    expect(seqs(wait)).toEqual([3, 7]);
  });

  it('settled messages stop waiting; clear forgets everything (a partition reacquired)', () => {
    const deferrals = new Deferrals();
    deferrals.defer('a', 1);
    deferrals.defer(null, 2);
    expect(deferrals.size).toBe(2);
    deferrals.settled('a', 1);
    expect(seqs(deferrals.split([msg('a', 9)]).apply)).toEqual([9]);
    deferrals.clear();
    expect(deferrals.size).toBe(0);
    expect(seqs(deferrals.split([msg(null, 10)]).apply)).toEqual([10]);
  });
});
