/**
 * A first-in first-out queue with O(1) take. A cascade queues every message a fan-out emits (20,000
 * for the two transitions of each of 10,000 essays) and takes them one by one: `Array#shift` moves
 * the whole rest of such an array on every take, which made a fan-out quadratic (12% of the nlp
 * request's CPU at 10,000 essays).
 */
export class Fifo<T> {
  private items: Array<T | undefined> = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** The oldest item, removed; undefined when empty. */
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head += 1;
    // Drop the taken slots once they are most of the array: memory stays proportional to what is queued.
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Up to `count` of the oldest items, not removed, oldest first. */
  peek(count: number): T[] {
    return this.items.slice(this.head, this.head + Math.max(0, count)) as T[];
  }
}
