/**
 * Every published command (package.json "bin") answers --help with its own name and every flag its
 * parser takes, each with its default (or "(required)"), in the style of lifecycle-worker --help.
 * The flags come from the parsers' own tables, so a flag added without help fails here. Each bin
 * is run as a child process through its published entry (scripts/bin).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEAD_FLAGS } from '../../scripts/lib/dead-cli.js';
import { EXPORT_FLAGS } from '../../scripts/lib/export-cli.js';
import { GEN_TESTS_FLAGS } from '../../scripts/lib/gen-tests-cli.js';
import { PRUNE_FLAGS } from '../../scripts/lib/prune-args.js';
import { REPLAY_FLAGS } from '../../scripts/lib/replay-cli.js';
import { WORKER_FLAGS } from '../../scripts/lib/worker-args.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BINS = Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin);

/** Each command's help: how to ask for it, the name its usage line starts with, the flags its parser takes. */
const COMMANDS: ReadonlyArray<{ readonly bin: string; readonly argv: readonly string[]; readonly name: string; readonly flags: Readonly<Record<string, unknown>> }> = [
  { bin: 'lifecycle-export', argv: ['--help'], name: 'lifecycle-export', flags: EXPORT_FLAGS },
  { bin: 'lifecycle-gen-tests', argv: ['--help'], name: 'lifecycle-gen-tests', flags: GEN_TESTS_FLAGS },
  { bin: 'lifecycle-prune', argv: ['--help'], name: 'lifecycle-prune', flags: PRUNE_FLAGS },
  { bin: 'lifecycle-replay', argv: ['--help'], name: 'lifecycle-replay', flags: REPLAY_FLAGS },
  { bin: 'lifecycle-worker', argv: ['--help'], name: 'lifecycle-worker', flags: WORKER_FLAGS },
  { bin: 'lifecycle-worker', argv: ['dead', '--help'], name: 'lifecycle-worker dead', flags: DEAD_FLAGS },
];

/** One entry of a help text: the flags its first line names, and its whole text. */
interface Entry {
  readonly flags: readonly string[];
  readonly text: string;
}

/**
 * The entries of a help text: a line indented by two spaces that starts with a flag (`--name`,
 * maybe `, -x`) begins one; deeper-indented lines continue it; a blank line ends it.
 */
function helpEntries(help: string): Entry[] {
  const entries: Array<{ flags: string[]; lines: string[] }> = [];
  let current: { flags: string[]; lines: string[] } | undefined;
  for (const line of help.split('\n')) {
    const head = /^ {2}(--[a-z][a-z-]*(?:, -[a-z])?)(?: {2,}|$)/.exec(line);
    if (head?.[1] !== undefined) {
      current = { flags: head[1].split(', ').filter((flag) => flag.startsWith('--')), lines: [line] };
      entries.push(current);
    } else if (current !== undefined && /^ {3,}\S/.test(line)) current.lines.push(line);
    else current = undefined;
  }
  return entries.map(({ flags, lines }) => ({ flags, text: lines.map((line) => line.trim()).join(' ') }));
}

describe('help of the published commands', () => {
  it('covers every bin of package.json', () => {
    expect([...new Set(COMMANDS.map((command) => command.bin))].sort()).toEqual([...BINS].sort());
  });

  it.each(COMMANDS.map((command) => [`${command.bin} ${command.argv.join(' ')}`, command] as const))('%s names the program and every flag with its default', (_title, command) => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', join('scripts', 'bin', `${command.bin}.ts`), ...command.argv], { cwd: ROOT, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.startsWith(`usage: ${command.name} `), run.stdout.slice(0, 80)).toBe(true);
    const entries = helpEntries(run.stdout);
    for (const flag of Object.keys(command.flags)) {
      const entry = entries.find((candidate) => candidate.flags.includes(`--${flag}`));
      expect(entry, `--${flag} has no entry in the help of ${command.name}`).toBeDefined();
      if (flag === 'help') continue;
      expect(entry?.text, `--${flag} of ${command.name} names no default`).toMatch(/\bdefault\b|\(required\)/);
    }
  });
});

describe('helpEntries (how the help texts above are read)', () => {
  it('reads flags, aliases and continuation lines, and ends an entry at a blank line', () => {
    const help = 'usage: x [--a]\n\n  --alpha     first (default 1)\n              more\n  --help, -h  this text\n\nTrailing --beta prose';
    expect(helpEntries(help)).toEqual([
      { flags: ['--alpha'], text: '--alpha     first (default 1) more' },
      { flags: ['--help'], text: '--help, -h  this text' },
    ]);
  });
});
