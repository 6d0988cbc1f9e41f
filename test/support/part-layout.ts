/**
 * A snapshot with its context parts' layout taken out: every parted list becomes `{ list: items }`
 * and every parted map `{ map: entries }`. Two snapshots that hold the same facts in parts of
 * different sizes (a tracker written before PART_SIZE, one written today) compare equal.
 */
import { isContextPart } from '../../machines/context-parts.js';

function isPartArray(value: unknown): value is Array<{ part_id: string; items: unknown }> {
  return Array.isArray(value) && value.every((item) => isContextPart(item));
}

export function withoutPartLayout(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutPartLayout);
  if (typeof value !== 'object' || value === null) return value;
  const record = value as Record<string, unknown>;
  if (isPartArray(record.parts) && typeof record.length === 'number' && 'part_size' in record) {
    return { list: record.parts.flatMap((part) => part.items as unknown[]).map(withoutPartLayout) };
  }
  if (isPartArray(record.parts) && typeof record.size === 'number') {
    const entries = record.parts.flatMap((part) => Object.entries(part.items as Record<string, unknown>));
    return { map: Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) };
  }
  return Object.fromEntries(Object.entries(record).map(([key, item]) => [key, withoutPartLayout(item)]));
}
