/**
 * The server's settings, parsed from an environment-like record. Pure: `parseConfig(env)`
 * reads only what it is given (server/main.ts passes process.env) and either returns a
 * complete configuration or throws one ConfigError naming every bad variable and its form.
 *
 * Variables (all optional):
 * - PORT                   0..65535 (default 3000; 0 = any free port)
 * - HOST                   interface to listen on (default 127.0.0.1)
 * - LIFECYCLE_STORE        sqlite:<path> (default sqlite:./data/lifecycle.db; sqlite::memory: for a
 *                          throw-away store), or a postgres://user@host:port/db URL (the PostgreSQL store;
 *                          add ?schema=<name> to use a schema other than public).
 * - SIMULATE               on | off (default on): the demo's simulated downstream services
 * - SIMULATE_FAILURE_RATE  number in [0, 1] (default 0.1)
 * - SIMULATE_DELAY_MS      <ms> or <min>-<max> (default 300-1500), at most 60000
 * - SIMULATE_SEED          integer seed of the simulator's PRNG (default: the start time)
 * - LOG_LEVEL              fatal | error | warn | info | debug | trace | silent (default info)
 * - LOG_FORMAT             auto | json | pretty (default auto: pretty with pino-pretty when stdout is a
 *                          terminal and pino-pretty is installed, else one JSON object per line)
 * - SQLITE_SYNCHRONOUS     NORMAL | FULL (default NORMAL)
 * - AUTH_TOKENS            user tokens, comma-separated entries  token=user_id[:org_id[:role1+role2]]
 *                          e.g. `s3cr3t-token-0123456=alice:org-1:teacher+admin,other-token-98765432=bob`
 *                          (an empty org_id, as in `tok=carol::admin`, means no organisation).
 *                          A token is 16..512 characters of [A-Za-z0-9._~-]; each token once.
 * - SERVICE_TOKENS         service tokens, same form (`token=service_id[:org_id[:roles]]`); their
 *                          principals have kind 'service'.
 * - NATS_URL               nats://host:port of the JetStream the workers consume (default unset): the
 *                          operator routes then also list and redrive its dead letters. The server
 *                          itself consumes nothing from NATS.
 * - NATS_STREAM            the workers' stream (default LIFECYCLE, as `lifecycle-worker --stream`);
 *                          its dead letters are in <NATS_STREAM>_DEAD.
 * Empty values count as unset.
 */

import type { Principal } from '../adapters/http/auth.js';
import { DEFAULT_STREAM } from '../adapters/queue/nats/names.js';

/** One bearer token and the principal it authenticates. */
export interface ConfiguredToken {
  readonly token: string;
  readonly principal: Principal;
}

/** pino's levels. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** How log lines are written: `auto` picks `pretty` on a terminal when pino-pretty is installed. */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Everything the server is started with. */
export interface ServerConfig {
  readonly port: number;
  readonly host: string;
  readonly store: { readonly kind: 'sqlite'; readonly path: string } | { readonly kind: 'postgres'; readonly url: string; readonly schema: string };
  readonly sqliteSynchronous: 'NORMAL' | 'FULL';
  readonly simulate: {
    readonly enabled: boolean;
    readonly failureRate: number;
    readonly delayMs: { readonly min: number; readonly max: number };
    readonly seed: number | undefined;
  };
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  /** User and service tokens together; empty when none is configured. */
  readonly tokens: readonly ConfiguredToken[];
  /** The NATS JetStream whose dead letters the operator routes serve (NATS_URL, NATS_STREAM); undefined without NATS_URL. */
  readonly nats: { readonly url: string; readonly stream: string } | undefined;
}

/** A bad environment: every problem, one per line; the process should exit with `exitCode`. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** The exit code a host should use (2: bad usage). */
  readonly exitCode = 2;
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
  }
}

/** The environment as given (process.env has this shape). */
export type Environment = Readonly<Record<string, string | undefined>>;

type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };
const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (name: string, value: string, form: string): Parsed<never> => ({
  ok: false,
  problem: `${name}="${value.length > 80 ? `${value.slice(0, 80)}...` : value}" is invalid: expected ${form}`,
});

function parsePort(value: string): Parsed<number> {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  return port >= 0 && port <= 65_535 ? ok(port) : bad('PORT', value, 'an integer from 0 to 65535');
}

function parseHost(value: string): Parsed<string> {
  return /^[A-Za-z0-9.:[\]%_-]{1,253}$/.test(value) ? ok(value) : bad('HOST', value, 'a host name or IP address, e.g. 127.0.0.1 or 0.0.0.0');
}

/** A store URL with its password replaced, for messages and logs. */
export function redactUrl(value: string): string {
  return value.replace(/^(\w+:\/\/[^:/@]+:)[^@]*@/, '$1***@');
}

/** How the start-up line names a store (never its password). */
export function describeStore(store: ServerConfig['store']): string {
  return store.kind === 'sqlite' ? store.path : `${redactUrl(store.url)} (schema ${store.schema})`;
}

function parseStore(value: string): Parsed<ServerConfig['store']> {
  const form = 'sqlite:<path>, e.g. sqlite:./data/lifecycle.db, or postgres://user@host:5432/db[?schema=name]';
  if (/^postgres(ql)?:\/\//i.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return bad('LIFECYCLE_STORE', redactUrl(value), form);
    }
    const schema = url.searchParams.get('schema') ?? 'public';
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) return bad('LIFECYCLE_STORE', redactUrl(value), form);
    url.searchParams.delete('schema');
    return ok({ kind: 'postgres', url: url.toString(), schema });
  }
  const match = /^sqlite:(.+)$/.exec(value);
  return match?.[1] === undefined ? bad('LIFECYCLE_STORE', value, form) : ok({ kind: 'sqlite', path: match[1] });
}

function parseNatsUrl(value: string): Parsed<string> {
  const form = 'nats://host:port, e.g. nats://127.0.0.1:4222 (no credentials, path or query)';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return bad('NATS_URL', value, form);
  }
  const plain = url.protocol === 'nats:' && url.hostname !== '' && (url.pathname === '' || url.pathname === '/') && url.search === '' && url.username === '' && url.password === '';
  return plain ? ok(`nats://${url.host}`) : bad('NATS_URL', redactUrl(value), form);
}

function parseStreamName(value: string): Parsed<string> {
  return /^[A-Za-z0-9_-]{1,64}$/.test(value) ? ok(value) : bad('NATS_STREAM', value, '1 to 64 letters, digits, _ or -');
}

function parseSwitch(value: string): Parsed<boolean> {
  const lower = value.toLowerCase();
  return lower === 'on' ? ok(true) : lower === 'off' ? ok(false) : bad('SIMULATE', value, 'on or off');
}

function parseRate(value: string): Parsed<number> {
  const rate = /^\d*\.?\d+$/.test(value) ? Number(value) : Number.NaN;
  return rate >= 0 && rate <= 1 ? ok(rate) : bad('SIMULATE_FAILURE_RATE', value, 'a number from 0 to 1, e.g. 0.1');
}

function parseDelay(value: string): Parsed<{ min: number; max: number }> {
  const match = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(value);
  const min = Number(match?.[1]);
  const max = match?.[2] === undefined ? min : Number(match[2]);
  return match !== null && min <= max && max <= 60_000
    ? ok({ min, max })
    : bad('SIMULATE_DELAY_MS', value, '<ms> or <min>-<max> with 0 <= min <= max <= 60000, e.g. 300-1500');
}

function parseSeed(value: string): Parsed<number> {
  return /^\d{1,10}$/.test(value) && Number(value) <= 0xffffffff ? ok(Number(value)) : bad('SIMULATE_SEED', value, 'an integer from 0 to 4294967295');
}

function parseLogLevel(value: string): Parsed<LogLevel> {
  const level = LOG_LEVELS.find((candidate) => candidate === value.toLowerCase());
  return level === undefined ? bad('LOG_LEVEL', value, LOG_LEVELS.join(' | ')) : ok(level);
}

function parseLogFormat(value: string): Parsed<LogFormat> {
  const format = LOG_FORMATS.find((candidate) => candidate === value.toLowerCase());
  return format === undefined ? bad('LOG_FORMAT', value, LOG_FORMATS.join(' | ')) : ok(format);
}

function parseSynchronous(value: string): Parsed<'NORMAL' | 'FULL'> {
  const upper = value.toUpperCase();
  return upper === 'NORMAL' || upper === 'FULL' ? ok(upper) : bad('SQLITE_SYNCHRONOUS', value, 'NORMAL or FULL');
}

const TOKEN = /^[A-Za-z0-9._~-]{16,512}$/;
const ID = /^[A-Za-z0-9._@-]{1,255}$/;
const ROLE = /^[A-Za-z0-9._-]{1,100}$/;

function parseTokenEntry(entry: string, kind: 'user' | 'service'): ConfiguredToken | undefined {
  const eq = entry.indexOf('=');
  if (eq < 0) return undefined;
  const token = entry.slice(0, eq);
  const [user_id = '', org = '', roleList = '', ...rest] = entry.slice(eq + 1).split(':');
  const roles = roleList === '' ? [] : roleList.split('+');
  const valid = TOKEN.test(token) && ID.test(user_id) && (org === '' || ID.test(org)) && roles.every((role) => ROLE.test(role)) && rest.length === 0;
  return valid ? { token, principal: { user_id, org_id: org === '' ? null : org, roles, kind } } : undefined;
}

function parseTokens(name: 'AUTH_TOKENS' | 'SERVICE_TOKENS', value: string, kind: 'user' | 'service'): Parsed<ConfiguredToken[]> {
  const form = `comma-separated token=${kind === 'user' ? 'user_id' : 'service_id'}[:org_id[:role1+role2]] entries; a token is 16-512 characters of A-Z a-z 0-9 . _ ~ -`;
  const tokens: ConfiguredToken[] = [];
  for (const [index, raw] of value.split(',').entries()) {
    const parsed = parseTokenEntry(raw.trim(), kind);
    if (parsed === undefined) return { ok: false, problem: `${name}: entry ${index + 1} is invalid: expected ${form}` };
    tokens.push(parsed);
  }
  return ok(tokens);
}

function checkDistinct(tokens: readonly ConfiguredToken[]): string | undefined {
  const seen = new Set<string>();
  for (const { token, principal } of tokens) {
    if (seen.has(token)) return `AUTH_TOKENS/SERVICE_TOKENS: a token is listed twice (for "${principal.user_id}"); every token must be unique`;
    seen.add(token);
  }
  return undefined;
}

function natsOf(url: string | undefined, stream: string): ServerConfig['nats'] {
  return url === undefined ? undefined : { url, stream };
}

/** Parses the environment; throws ConfigError listing every bad variable. */
export function parseConfig(env: Environment): ServerConfig {
  const problems: string[] = [];
  const read = <T>(name: string, fallback: T, parse: (value: string) => Parsed<T>): T => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') return fallback;
    const parsed = parse(raw);
    if (parsed.ok) return parsed.value;
    problems.push(parsed.problem);
    return fallback;
  };
  const tokens = [
    ...read('AUTH_TOKENS', [], (value) => parseTokens('AUTH_TOKENS', value, 'user')),
    ...read('SERVICE_TOKENS', [], (value) => parseTokens('SERVICE_TOKENS', value, 'service')),
  ];
  const duplicate = checkDistinct(tokens);
  if (duplicate !== undefined) problems.push(duplicate);
  const config: ServerConfig = {
    port: read('PORT', 3000, parsePort),
    host: read('HOST', '127.0.0.1', parseHost),
    store: read('LIFECYCLE_STORE', { kind: 'sqlite', path: './data/lifecycle.db' }, parseStore),
    sqliteSynchronous: read('SQLITE_SYNCHRONOUS', 'NORMAL', parseSynchronous),
    simulate: {
      enabled: read('SIMULATE', true, parseSwitch),
      failureRate: read('SIMULATE_FAILURE_RATE', 0.1, parseRate),
      delayMs: read('SIMULATE_DELAY_MS', { min: 300, max: 1500 }, parseDelay),
      seed: read<number | undefined>('SIMULATE_SEED', undefined, parseSeed),
    },
    logLevel: read('LOG_LEVEL', 'info', parseLogLevel),
    logFormat: read('LOG_FORMAT', 'auto', parseLogFormat),
    tokens,
    nats: natsOf(read<string | undefined>('NATS_URL', undefined, parseNatsUrl), read('NATS_STREAM', DEFAULT_STREAM, parseStreamName)),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
