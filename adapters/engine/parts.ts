/**
 * Which context parts (machines/context-parts.ts) a commit must write: a part is unchanged when
 * the new context holds the very object the stored one held (contexts are immutable, so an
 * untouched part keeps its identity through every transition).
 */
import { collectParts } from '../store-parts.js';
import type { EntityWrite } from '../store.js';

/** The parts hint of an entity write, from the stored and the new context. */
export function partChanges(storedContext: unknown, nextContext: unknown): NonNullable<EntityWrite['parts']> {
  const before = collectParts(storedContext);
  const after = collectParts(nextContext);
  const unchanged = new Set<string>();
  for (const [id, part] of after) if (before.get(id) === part) unchanged.add(id);
  const removed: string[] = [];
  for (const id of before.keys()) if (!after.has(id)) removed.push(id);
  return { unchanged, removed };
}
