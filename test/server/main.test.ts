/**
 * server/main.ts: the exposure rule, token mode, graceful close, and the real process (exit
 * codes, the one start-up line, SIGTERM -> exit 0).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../server/config.js';
import { startServer } from '../../server/main.js';

const dir = mkdtempSync(join(tmpdir(), 'lifecycle-main-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const silent = pino({ level: 'silent' });
const TOKEN = 'teacher-token-0123456789';

describe('startServer', () => {
  it('refuses to serve open on a non-loopback host, before opening anything', async () => {
    const store = join(dir, 'exposed', 'db.sqlite');
    const config = parseConfig({ HOST: '0.0.0.0', PORT: '0', LIFECYCLE_STORE: `sqlite:${store}`, SIMULATE: 'off' });
    const failure = startServer(config, silent);
    await expect(failure).rejects.toBeInstanceOf(ConfigError);
    await expect(failure).rejects.toThrow('HOST="0.0.0.0" is not a loopback address and AUTH_TOKENS is not set');
    expect(existsSync(join(dir, 'exposed'))).toBe(false);
  });

  it('requires bearer tokens when AUTH_TOKENS is set, and closes idempotently', async () => {
    const config = parseConfig({
      PORT: '0',
      LIFECYCLE_STORE: `sqlite:${join(dir, 'tokens', 'db.sqlite')}`,
      SIMULATE: 'off',
      AUTH_TOKENS: `${TOKEN}=alice:school-1:teacher`,
    });
    const server = await startServer(config, silent);
    try {
      expect(server.auth).toBe('tokens');
      expect(server.simulator).toBeUndefined();
      expect((await fetch(`${server.url}/batches`)).status).toBe(401);
      const ok = await fetch(`${server.url}/batches`, { headers: { Authorization: `Bearer ${TOKEN}` } });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ batches: [] });
    } finally {
      await Promise.all([server.close(), server.close()]);
    }
    await expect(fetch(`${server.url}/batches`)).rejects.toThrow();
  });
});

interface Exit {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `tsx server/main.ts` with `env`; `onLine` sees each stdout line (and may signal the child). */
function runMain(env: Record<string, string>, onLine: (line: string, kill: (signal: NodeJS.Signals) => void) => void = () => undefined): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      cwd: join(import.meta.dirname, '..', '..'),
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'silent', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      for (const line of chunk.split('\n')) if (line !== '') onLine(line, (signal) => child.kill(signal));
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('server/main.ts as a process', () => {
  it('exits 2 naming the bad variable and the accepted form', async () => {
    const exit = await runMain({ PORT: 'eighty', SIMULATE: 'sometimes' });
    expect(exit.code).toBe(2);
    expect(exit.stderr).toContain('PORT="eighty" is invalid: expected an integer from 0 to 65535');
    expect(exit.stderr).toContain('SIMULATE="sometimes" is invalid: expected on or off');
    expect(exit.stdout).toBe('');
  });

  it('exits 2 for an exposed host without tokens', async () => {
    const exposed = await runMain({ HOST: '0.0.0.0', PORT: '0', LIFECYCLE_STORE: `sqlite:${join(dir, 'p', 'db.sqlite')}` });
    expect(exposed.code).toBe(2);
    expect(exposed.stderr).toContain('refusing to serve the API without authentication');
  });

  it('prints one start-up line with the URL and exits 0 on SIGTERM', async () => {
    let countsStatus = 0;
    const exit = await runMain({ PORT: '0', LIFECYCLE_STORE: `sqlite:${join(dir, 'proc', 'data', 'db.sqlite')}` }, (line, kill) => {
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
      if (match?.[1] === undefined) return;
      fetch(`${match[1]}/counts`)
        .then((res) => (countsStatus = res.status))
        .catch(() => (countsStatus = -1))
        .finally(() => kill('SIGTERM'));
    });
    expect(countsStatus).toBe(200);
    expect(exit.code).toBe(0);
    expect(exit.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(/^essay lifecycle server listening on http:\/\/127\.0\.0\.1:\d+ \(open \(no auth\) on loopback: the local principal acts as user and service; simulator on; store .*db\.sqlite\)$/),
    ]);
    expect(existsSync(join(dir, 'proc', 'data', 'db.sqlite'))).toBe(true);
  });
});
