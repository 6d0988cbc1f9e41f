import { describe, expect, it } from 'vitest';
import { recordOf, recordWith, recordWithout } from '../machines/records.js';

describe('id-keyed record copies (machines/records.ts)', () => {
  it('recordWith answers a plain object with the key added last, and leaves the original as it was', () => {
    const original = { b: 1, a: 2 };
    const next = recordWith(original, 'c', 3);
    expect([Object.keys(next), next.c, Object.getPrototypeOf(next) === Object.prototype, original]).toEqual([['b', 'a', 'c'], 3, true, { b: 1, a: 2 }]);
  });

  it('recordWith replaces an existing key in its place', () => {
    expect(Object.entries(recordWith({ x: 1, y: 2, z: 3 }, 'y', 9))).toEqual([['x', 1], ['y', 9], ['z', 3]]);
  });

  it('recordWithout keeps the other keys in order and is a no-op copy for an absent key', () => {
    const original = { a: 1, b: 2, c: 3 };
    expect([Object.keys(recordWithout(original, 'b')), recordWithout(original, 'zz'), Object.keys(original)]).toEqual([['a', 'c'], original, ['a', 'b', 'c']]);
  });

  it('treats __proto__ and constructor as ordinary own keys, never as the prototype', () => {
    const withProto = recordWith({}, '__proto__', 7);
    const copied = recordWithout(recordWith(withProto, 'constructor', 8), 'nothing');
    expect([Object.keys(copied), Object.hasOwn(copied, '__proto__'), Object.getPrototypeOf(copied) === Object.prototype, JSON.stringify(copied)]).toEqual([
      ['__proto__', 'constructor'],
      true,
      true,
      '{"__proto__":7,"constructor":8}',
    ]);
    expect(Object.keys(recordWithout(copied, '__proto__'))).toEqual(['constructor']);
  });

  it('recordOf keeps the first position and the last value of a repeated key', () => {
    expect(Object.entries(recordOf([['k', 1], ['j', 2], ['k', 3]]))).toEqual([['k', 3], ['j', 2]]);
  });
});
