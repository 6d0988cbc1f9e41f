/** parseConfig: defaults, every variable, every bad value with the message naming it. */
import { describe, expect, it } from 'vitest';
import { ConfigError, describeStore, parseConfig, type Environment } from '../../server/config.js';

const TOKEN_A = 'aaaaaaaaaaaaaaaa-1';
const TOKEN_B = 'bbbbbbbbbbbbbbbb-2';

function problemsOf(env: Environment): readonly string[] {
  try {
    parseConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(2);
    return (error as ConfigError).problems;
  }
  throw new Error('parseConfig accepted a bad environment');
}

describe('LIFECYCLE_STORE with PostgreSQL', () => {
  it('accepts a postgres URL, takes the schema from ?schema= and never shows the password', () => {
    const config = parseConfig({ LIFECYCLE_STORE: 'postgres://app:secret@db.local:5432/lifecycle?schema=tenant_1' });
    expect(config.store).toEqual({ kind: 'postgres', url: 'postgres://app:secret@db.local:5432/lifecycle', schema: 'tenant_1' });
    expect(describeStore(config.store)).toBe('postgres://app:***@db.local:5432/lifecycle (schema tenant_1)');
  });

  it('defaults the schema to public', () => {
    expect(parseConfig({ LIFECYCLE_STORE: 'postgresql://app@db/lifecycle' }).store).toMatchObject({ kind: 'postgres', schema: 'public' });
  });
});

describe('parseConfig', () => {
  it('has a default for every variable', () => {
    expect(parseConfig({})).toEqual({
      port: 3000,
      host: '127.0.0.1',
      store: { kind: 'sqlite', path: './data/lifecycle.db' },
      sqliteSynchronous: 'NORMAL',
      simulate: { enabled: true, failureRate: 0.1, delayMs: { min: 300, max: 1500 }, seed: undefined },
      logLevel: 'info',
      logFormat: 'auto',
      tokens: [],
      nats: undefined,
    });
  });

  it('treats empty values as unset', () => {
    expect(parseConfig({ PORT: '', HOST: '  ', SIMULATE: '' })).toEqual(parseConfig({}));
  });

  it('reads every variable', () => {
    const config = parseConfig({
      PORT: '8080',
      HOST: '0.0.0.0',
      LIFECYCLE_STORE: 'sqlite:/var/lib/lifecycle/db.sqlite',
      SQLITE_SYNCHRONOUS: 'full',
      SIMULATE: 'OFF',
      SIMULATE_FAILURE_RATE: '0.25',
      SIMULATE_DELAY_MS: '50',
      SIMULATE_SEED: '1234',
      LOG_LEVEL: 'debug',
      LOG_FORMAT: 'Pretty',
      AUTH_TOKENS: `${TOKEN_A}=alice:org-1:teacher+admin, ${TOKEN_B}=bob`,
      SERVICE_TOKENS: 'cccccccccccccccc-3=grader::ingest',
      NATS_URL: 'nats://nats.local:4222',
      NATS_STREAM: 'LIFECYCLE_STAGING',
    });
    expect(config).toEqual({
      port: 8080,
      host: '0.0.0.0',
      store: { kind: 'sqlite', path: '/var/lib/lifecycle/db.sqlite' },
      sqliteSynchronous: 'FULL',
      simulate: { enabled: false, failureRate: 0.25, delayMs: { min: 50, max: 50 }, seed: 1234 },
      logLevel: 'debug',
      logFormat: 'pretty',
      tokens: [
        { token: TOKEN_A, principal: { user_id: 'alice', org_id: 'org-1', roles: ['teacher', 'admin'], kind: 'user' } },
        { token: TOKEN_B, principal: { user_id: 'bob', org_id: null, roles: [], kind: 'user' } },
        { token: 'cccccccccccccccc-3', principal: { user_id: 'grader', org_id: null, roles: ['ingest'], kind: 'service' } },
      ],
      nats: { url: 'nats://nats.local:4222', stream: 'LIFECYCLE_STAGING' },
    });
  });

  it('takes NATS_STREAM only with NATS_URL, defaulting to the workers\' LIFECYCLE', () => {
    expect(parseConfig({ NATS_URL: 'nats://127.0.0.1:4222' }).nats).toEqual({ url: 'nats://127.0.0.1:4222', stream: 'LIFECYCLE' });
    expect(parseConfig({ NATS_STREAM: 'OTHER' }).nats).toBeUndefined();
  });

  it('accepts the edges of each range', () => {
    expect(parseConfig({ PORT: '0' }).port).toBe(0);
    expect(parseConfig({ PORT: '65535' }).port).toBe(65_535);
    expect(parseConfig({ SIMULATE_FAILURE_RATE: '0' }).simulate.failureRate).toBe(0);
    expect(parseConfig({ SIMULATE_FAILURE_RATE: '1' }).simulate.failureRate).toBe(1);
    expect(parseConfig({ SIMULATE_DELAY_MS: '0-60000' }).simulate.delayMs).toEqual({ min: 0, max: 60_000 });
    expect(parseConfig({ LIFECYCLE_STORE: 'sqlite::memory:' }).store).toEqual({ kind: 'sqlite', path: ':memory:' });
    expect(parseConfig({ SIMULATE: 'on' }).simulate.enabled).toBe(true);
    expect(parseConfig({ SQLITE_SYNCHRONOUS: 'NORMAL' }).sqliteSynchronous).toBe('NORMAL');
  });

  it.each([
    ['PORT', 'abc', 'PORT="abc" is invalid: expected an integer from 0 to 65535'],
    ['PORT', '65536', 'PORT="65536" is invalid: expected an integer from 0 to 65535'],
    ['PORT', '-1', 'PORT="-1" is invalid: expected an integer from 0 to 65535'],
    ['HOST', 'bad host', 'HOST="bad host" is invalid: expected a host name or IP address, e.g. 127.0.0.1 or 0.0.0.0'],
    ['LIFECYCLE_STORE', 'mysql://x', 'LIFECYCLE_STORE="mysql://x" is invalid: expected sqlite:<path>, e.g. sqlite:./data/lifecycle.db, or postgres://user@host:5432/db[?schema=name]'],
    ['LIFECYCLE_STORE', 'sqlite:', 'LIFECYCLE_STORE="sqlite:" is invalid: expected sqlite:<path>, e.g. sqlite:./data/lifecycle.db, or postgres://user@host:5432/db[?schema=name]'],
    ['LIFECYCLE_STORE', 'postgres://u:secret@h/db?schema=1bad', 'LIFECYCLE_STORE="postgres://u:***@h/db?schema=1bad" is invalid: expected sqlite:<path>, e.g. sqlite:./data/lifecycle.db, or postgres://user@host:5432/db[?schema=name]'],
    ['SIMULATE', 'yes', 'SIMULATE="yes" is invalid: expected on or off'],
    ['SIMULATE_FAILURE_RATE', '1.5', 'SIMULATE_FAILURE_RATE="1.5" is invalid: expected a number from 0 to 1, e.g. 0.1'],
    ['SIMULATE_FAILURE_RATE', '-0.1', 'SIMULATE_FAILURE_RATE="-0.1" is invalid: expected a number from 0 to 1, e.g. 0.1'],
    ['SIMULATE_FAILURE_RATE', 'NaN', 'SIMULATE_FAILURE_RATE="NaN" is invalid: expected a number from 0 to 1, e.g. 0.1'],
    ['SIMULATE_DELAY_MS', '1500-300', 'SIMULATE_DELAY_MS="1500-300" is invalid: expected <ms> or <min>-<max> with 0 <= min <= max <= 60000, e.g. 300-1500'],
    ['SIMULATE_DELAY_MS', '70000', 'SIMULATE_DELAY_MS="70000" is invalid: expected <ms> or <min>-<max> with 0 <= min <= max <= 60000, e.g. 300-1500'],
    ['SIMULATE_DELAY_MS', 'fast', 'SIMULATE_DELAY_MS="fast" is invalid: expected <ms> or <min>-<max> with 0 <= min <= max <= 60000, e.g. 300-1500'],
    ['SIMULATE_SEED', '4294967296', 'SIMULATE_SEED="4294967296" is invalid: expected an integer from 0 to 4294967295'],
    ['LOG_LEVEL', 'verbose', 'LOG_LEVEL="verbose" is invalid: expected fatal | error | warn | info | debug | trace | silent'],
    ['LOG_FORMAT', 'text', 'LOG_FORMAT="text" is invalid: expected auto | json | pretty'],
    ['SQLITE_SYNCHRONOUS', 'OFF', 'SQLITE_SYNCHRONOUS="OFF" is invalid: expected NORMAL or FULL'],
    ['NATS_URL', 'http://nats.local:4222', 'NATS_URL="http://nats.local:4222" is invalid: expected nats://host:port, e.g. nats://127.0.0.1:4222 (no credentials, path or query)'],
    ['NATS_URL', 'nats://user:secret@nats.local:4222', 'NATS_URL="nats://user:***@nats.local:4222" is invalid: expected nats://host:port, e.g. nats://127.0.0.1:4222 (no credentials, path or query)'],
    ['NATS_URL', 'nats://nats.local:4222/stream', 'NATS_URL="nats://nats.local:4222/stream" is invalid: expected nats://host:port, e.g. nats://127.0.0.1:4222 (no credentials, path or query)'],
    ['NATS_STREAM', 'bad.name', 'NATS_STREAM="bad.name" is invalid: expected 1 to 64 letters, digits, _ or -'],
  ])('refuses %s=%s', (name, value, message) => {
    expect(problemsOf({ [name]: value })).toEqual([message]);
  });

  const tokenForm =
    'comma-separated token=user_id[:org_id[:role1+role2]] entries; a token is 16-512 characters of A-Z a-z 0-9 . _ ~ -';
  it.each([
    ['no equals sign', 'just-a-token-without-user'],
    ['a short token', 'short=alice'],
    ['no user', `${TOKEN_A}=`],
    ['a bad role', `${TOKEN_A}=alice:org:bad role`],
    ['too many parts', `${TOKEN_A}=alice:org:teacher:extra`],
    ['an empty entry', `${TOKEN_A}=alice,`],
  ])('refuses AUTH_TOKENS with %s, without echoing the token', (_label, value) => {
    const problems = problemsOf({ AUTH_TOKENS: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^AUTH_TOKENS: entry \\d is invalid: expected ${tokenForm.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
    expect(problems[0]).not.toContain(TOKEN_A);
  });

  it('refuses SERVICE_TOKENS in the service form', () => {
    expect(problemsOf({ SERVICE_TOKENS: 'x=svc' })).toEqual([
      'SERVICE_TOKENS: entry 1 is invalid: expected comma-separated token=service_id[:org_id[:role1+role2]] entries; a token is 16-512 characters of A-Z a-z 0-9 . _ ~ -',
    ]);
  });

  it('refuses a token listed twice', () => {
    expect(problemsOf({ AUTH_TOKENS: `${TOKEN_A}=alice`, SERVICE_TOKENS: `${TOKEN_A}=svc` })).toEqual([
      'AUTH_TOKENS/SERVICE_TOKENS: a token is listed twice (for "svc"); every token must be unique',
    ]);
  });

  it('reports every bad variable at once, in one message', () => {
    let caught: unknown;
    try {
      parseConfig({ PORT: 'x', SIMULATE: 'maybe' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as Error).message).toBe(
      'invalid configuration:\n  - PORT="x" is invalid: expected an integer from 0 to 65535\n  - SIMULATE="maybe" is invalid: expected on or off',
    );
  });
});
