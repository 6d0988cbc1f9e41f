/** The bench's child processes: a script run again in a fresh Node process, answering one JSON line. */
import { spawnSync } from 'node:child_process';

/**
 * Runs `script child ...args` in a child Node process (tsx) and answers the JSON its last output
 * line holds; throws naming `what`, its exit status and the end of its stderr otherwise.
 */
export function runBenchChild<T>(script: string, args: readonly string[], what: string, options: { nodeFlags?: readonly string[]; env?: Record<string, string> } = {}): T {
  const argv = [...(options.nodeFlags ?? []), '--import', 'tsx', script, 'child', ...args];
  const env = { ...process.env, NODE_NO_WARNINGS: '1', ...options.env };
  const child = spawnSync(process.execPath, argv, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, env });
  const line = child.stdout.trim().split('\n').at(-1) ?? '';
  if (child.status !== 0 || !line.startsWith('{')) {
    throw new Error(`${what} failed (exit ${String(child.status)}): ${child.stderr.slice(-2000)}`);
  }
  return JSON.parse(line) as T;
}
