/**
 * Messages of a partition this process handed back for later (nak with a delay) because its engine
 * answered them `deferred`: it cannot apply them now (a snapshot written by a newer machine version
 * during a rolling upgrade, an unreadable row, a failing machine). They are never dead-lettered.
 *
 * Batch order across groups: while a batch has a message waiting for redelivery, a newer message
 * of that batch is not applied either; it is handed back too, and waits. A group applies a batch's
 * messages again only from the oldest one waiting (no older one of the batch may be left out), in
 * stream order, and the engine holds back whatever follows a message it defers in the same call. The record is
 * per lease: a process that (re)acquires a partition starts with none, since another holder may
 * have applied them meanwhile.
 */

/** The waiting messages of one partition, by partition key (batch id; '' when a message has none). */
export class Deferrals {
  private readonly waiting = new Map<string, Set<number>>();

  /** Forgets everything (the partition was (re)acquired). */
  clear(): void {
    this.waiting.clear();
  }

  /** How many messages wait. */
  get size(): number {
    let n = 0;
    for (const seqs of this.waiting.values()) n += seqs.size;
    return n;
  }

  /**
   * Splits a group into the messages to apply (in stream order) and those that must wait: a message
   * waits while an older message of its batch waits and is not applied before it in this group.
   */
  split<T extends { readonly key: string | null; readonly seq: number }>(items: readonly T[]): { apply: T[]; wait: T[] } {
    const apply: T[] = [];
    const wait: T[] = [];
    const passed = new Set<number>();
    const stalled = new Set<string>();
    for (const item of [...items].sort((a, b) => a.seq - b.seq)) {
      const key = item.key ?? '';
      const seqs = this.waiting.get(key);
      const behind = stalled.has(key) || (seqs !== undefined && [...seqs].some((seq) => seq < item.seq && !passed.has(seq)));
      if (behind) {
        stalled.add(key);
        wait.push(item);
      } else {
        passed.add(item.seq);
        apply.push(item);
      }
    }
    return { apply, wait };
  }

  /** Records that the message `seq` of batch `key` was handed back to wait. */
  defer(key: string | null, seq: number): void {
    const k = key ?? '';
    const seqs = this.waiting.get(k);
    if (seqs === undefined) this.waiting.set(k, new Set([seq]));
    else seqs.add(seq);
  }

  /** Records that the message `seq` of batch `key` was settled (applied or a duplicate). */
  settled(key: string | null, seq: number): void {
    const k = key ?? '';
    const seqs = this.waiting.get(k);
    if (seqs === undefined) return;
    seqs.delete(seq);
    if (seqs.size === 0) this.waiting.delete(k);
  }
}
