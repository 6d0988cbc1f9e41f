/**
 * Results remembered by object identity. Contexts are immutable: an object the engine keeps
 * from one commit to the next (an unchanged context part, the batch's essay list while only
 * essays change) is the very same object, so what was derived from it still holds. The
 * invariant checks and the stores' part runs use this to cost what an event changed, not the
 * batch. WeakMaps: nothing is kept alive by the memo.
 */

/** A memo of `compute(key)` per key object. */
export function memoByObject<K extends object, R>(compute: (key: K) => R): (key: K) => R {
  const results = new WeakMap<K, R>();
  return (key) => {
    if (results.has(key)) return results.get(key) as R;
    const result = compute(key);
    results.set(key, result);
    return result;
  };
}

/** A memo of `compute(first, second)` per pair of key objects. */
export function memoByPair<A extends object, B extends object, R>(compute: (first: A, second: B) => R): (first: A, second: B) => R {
  const results = new WeakMap<A, WeakMap<B, R>>();
  return (first, second) => {
    let inner = results.get(first);
    if (inner === undefined) {
      inner = new WeakMap<B, R>();
      results.set(first, inner);
    }
    if (inner.has(second)) return inner.get(second) as R;
    const result = compute(first, second);
    inner.set(second, result);
    return result;
  };
}
