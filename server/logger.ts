/**
 * The server's pino logger. `LOG_FORMAT=auto` (the default) writes readable lines through
 * pino-pretty when stdout is a terminal and pino-pretty (a dev dependency) is installed, and one
 * JSON object per line otherwise (a pipe, a file, a log shipper, or pino-pretty absent).
 * `LOG_FORMAT=pretty` without pino-pretty is a configuration error naming the package.
 */
import { pino, type Logger } from 'pino';
import type PinoPretty from 'pino-pretty';
import { ConfigError, type LogFormat, type LogLevel } from './config.js';

type PrettyFactory = typeof PinoPretty;

/** pino-pretty's stream factory, or undefined when the package is not installed. */
async function loadPretty(): Promise<PrettyFactory | undefined> {
  try {
    const module = (await import('pino-pretty')) as { default: PrettyFactory };
    return module.default;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}

const text = (value: unknown): string => (typeof value === 'string' || typeof value === 'number' ? String(value) : '?');

/** A request line in a few words: `POST /batches 201 12 ms (teacher-1) [req id]`. */
function requestLine(log: Record<string, unknown>, messageKey: string): string {
  const req = log.req as { method?: unknown; url?: unknown; id?: unknown } | undefined;
  const res = log.res as { statusCode?: unknown } | undefined;
  const message = text(log[messageKey]);
  if (req === undefined || res === undefined) return message;
  const who = typeof log.principal === 'string' ? ` (${log.principal})` : '';
  const aborted = message === 'request aborted' ? ' aborted' : '';
  return `${text(req.method)} ${text(req.url)} ${text(res.statusCode)}${aborted} ${text(log.responseTime)} ms${who} [${text(req.id)}]`;
}

/** Which format `auto` means here: pretty on a terminal, JSON elsewhere. */
export function resolveLogFormat(format: LogFormat, stdoutIsTerminal: boolean): 'json' | 'pretty' {
  if (format !== 'auto') return format;
  return stdoutIsTerminal ? 'pretty' : 'json';
}

/**
 * The logger the server runs with. Throws ConfigError for LOG_FORMAT=pretty when pino-pretty
 * is not installed; `auto` then falls back to JSON.
 */
export async function createServerLogger(level: LogLevel, format: LogFormat, stdoutIsTerminal = process.stdout.isTTY === true): Promise<Logger> {
  if (resolveLogFormat(format, stdoutIsTerminal) === 'json') return pino({ level });
  const pretty = await loadPretty();
  if (pretty === undefined) {
    if (format === 'auto') return pino({ level });
    throw new ConfigError(['LOG_FORMAT="pretty" needs the package pino-pretty, which is not installed: npm install --save-dev pino-pretty (or LOG_FORMAT=json)']);
  }
  const stream = pretty({
    colorize: stdoutIsTerminal,
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,req,res,responseTime,principal',
    messageFormat: requestLine,
  });
  return pino({ level }, stream);
}
