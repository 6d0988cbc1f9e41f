/**
 * The published commands' shared entry (scripts/lib/bin.ts): a missing optional peer dependency,
 * while loading or while running, is one message naming the package to install (also for
 * --help), never Node's ERR_MODULE_NOT_FOUND trace. The errors are Node's own: each test
 * imports a package that is not installed.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT_MISSING_PACKAGE, missingPackageOf, runBin } from '../../scripts/lib/bin.js';

const ROOT = join(import.meta.dirname, '..', '..');

const MISSING = 'not-installed-pkg-for-bin-test';
const MISSING_SCOPED = '@not-installed-scope/graph';

/** Imports `specifier` (a variable, so the compiler does not resolve it). */
async function load(specifier: string): Promise<void> {
  await (import(specifier) as Promise<unknown>);
}

/** Node's real error for an import of a package that is not installed. */
async function importError(specifier: string): Promise<unknown> {
  try {
    await load(specifier);
  } catch (error) {
    return error;
  }
  throw new Error(`${specifier} is installed`);
}

describe('missingPackageOf', () => {
  it('names the package of a failed bare import, scoped packages and subpaths included', async () => {
    expect(missingPackageOf(await importError('not-installed-pkg-for-bin-test'))).toBe('not-installed-pkg-for-bin-test');
    expect(missingPackageOf(await importError('@not-installed-scope/graph/sub/path.js'))).toBe('@not-installed-scope/graph');
  });

  it('is undefined for a missing relative module and for any other error', async () => {
    expect(missingPackageOf(await importError('./no-such-module-here.js'))).toBeUndefined();
    expect(missingPackageOf(new Error("Cannot find package 'x' imported from y"))).toBeUndefined();
    expect(missingPackageOf('ERR_MODULE_NOT_FOUND')).toBeUndefined();
  });
});

describe('runBin', () => {
  it('answers a package missing at load time with its name and the install command, exit 1', async () => {
    const lines: string[] = [];
    const code = await runBin('lifecycle-example', ['--out', 'x'], async () => {
      await load(MISSING);
      return () => Promise.resolve(0);
    }, (text) => lines.push(text));
    expect(code).toBe(EXIT_MISSING_PACKAGE);
    expect(lines.join('\n')).toBe(
      'lifecycle-example: needs the package "not-installed-pkg-for-bin-test", which is not installed (an optional peer dependency of essay-lifecycle-statecharts).\n' +
        'Install it next to the package: npm install not-installed-pkg-for-bin-test',
    );
  });

  it('says the same for --help, and that help follows once the package is installed', async () => {
    const lines: string[] = [];
    const code = await runBin('lifecycle-example', ['--help'], async () => {
      await load(MISSING_SCOPED);
      return () => Promise.resolve(0);
    }, (text) => lines.push(text));
    expect(code).toBe(EXIT_MISSING_PACKAGE);
    expect(lines.join('\n')).toContain('npm install @not-installed-scope/graph');
    expect(lines.join('\n')).toContain('(lifecycle-example --help lists the options once @not-installed-scope/graph is installed)');
  });

  it('answers a package missing while running the same way, and passes exit codes and other errors through', async () => {
    const lines: string[] = [];
    const running = await runBin('lifecycle-example', [], () => Promise.resolve(async () => {
      await load(MISSING);
      return 0;
    }), (text) => lines.push(text));
    expect(running).toBe(EXIT_MISSING_PACKAGE);
    expect(await runBin('lifecycle-example', [], () => Promise.resolve(() => Promise.resolve(2)), (text) => lines.push(text))).toBe(2);
    await expect(runBin('lifecycle-example', [], () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  });
});

// Every bin's --help (name, flags, defaults) is checked in help.test.ts.
describe('the published bins', () => {
  it('lifecycle-export has no --docs (it would write into the installed package)', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', join('scripts', 'bin', 'lifecycle-export.ts'), '--docs'], { cwd: ROOT, encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("Unknown option '--docs'");
    expect(run.stderr).not.toContain('--docs ');
  });
});
