/**
 * Machine values (context, meta, params, invoke input) as JSON, converted value by value: what JSON
 * cannot hold (undefined, a function, a class instance, a non-finite number) is left out on its own,
 * never taking its siblings with it, and each loss is reported by where it was.
 */
import type { Json } from '../../machines/lifecycle-machine.js';

/** A JSON object. */
export type JsonObject = { [key: string]: Json };

/** Where a value that JSON cannot hold was, and what it was. */
export interface JsonLoss {
  /** Dotted path (`context.winner`, `context.board[3]`). */
  readonly path: string;
  /** What it was (`undefined`, `a function`, `a Date`, `Infinity`). */
  readonly found: string;
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'bigint' || typeof value === 'symbol') return `a ${typeof value}`;
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)?.constructor?.name;
  return `a ${name ?? 'null-prototype object'}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/**
 * `value` as JSON, keeping every part JSON can hold: an object keeps its other keys when one is
 * left out, an array holds `null` in place of a lost item. Each loss is pushed on `losses`.
 * Answers undefined when `value` itself cannot be held.
 */
export function toJsonValue(value: unknown, path: string, losses: JsonLoss[]): Json | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (Array.isArray(value)) {
    return value.map((item: unknown, index) => toJsonValue(item, `${path}[${index}]`, losses) ?? null);
  }
  if (isPlainObject(value)) {
    const out: JsonObject = {};
    for (const [key, item] of Object.entries(value)) {
      const converted = toJsonValue(item, `${path}.${key}`, losses);
      if (converted !== undefined) out[key] = converted;
    }
    return out;
  }
  losses.push({ path, found: describe(value) });
  return undefined;
}

/** The value if it converts to JSON without any loss, else undefined. */
export function jsonSafe(value: unknown): Json | undefined {
  const losses: JsonLoss[] = [];
  const converted = toJsonValue(value, '', losses);
  return losses.length === 0 ? converted : undefined;
}
