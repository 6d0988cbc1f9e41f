/**
 * What every published command (`bin` in package.json) shares: it loads its program with a
 * dynamic import, so a missing optional peer dependency (better-sqlite3, @xstate/graph, pg,
 * @nats-io/*...) is caught here and answered with one message naming the package to install,
 * instead of Node's ERR_MODULE_NOT_FOUND stack trace. `--help` gets the same message when
 * the program cannot even load. Imports nothing but Node's own modules.
 */

/** Exit code when the command cannot run because a package is missing. */
export const EXIT_MISSING_PACKAGE = 1;

/**
 * The package a failed import could not find, or undefined when the error is something else.
 * Node says `Cannot find package 'better-sqlite3' imported from ...` (ESM) or
 * `Cannot find module 'x'` (CommonJS require); relative paths are not packages.
 */
export function missingPackageOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if ((code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') || typeof message !== 'string') return undefined;
  const match = /Cannot find (?:package|module) '([^']+)'/.exec(message);
  const specifier = match?.[1];
  if (specifier === undefined || specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('file:')) return undefined;
  const parts = specifier.split('/');
  return (specifier.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/');
}

/** The message for a missing package; `forHelp` when the user only asked for --help. */
export function missingPackageMessage(program: string, pkg: string, forHelp: boolean): string {
  return [
    `${program}: needs the package "${pkg}", which is not installed (an optional peer dependency of essay-lifecycle-statecharts).`,
    `Install it next to the package: npm install ${pkg}`,
    ...(forHelp ? [`(${program} --help lists the options once ${pkg} is installed)`] : []),
  ].join('\n');
}

/** A program's entry: its exit code for these arguments. */
export type Program = (argv: readonly string[]) => Promise<number>;

const wantsHelp = (argv: readonly string[]): boolean => argv.includes('--help') || argv.includes('-h');

/**
 * Loads and runs a command; returns its exit code. A missing package, while loading or while
 * running, prints {@link missingPackageMessage} on stderr and answers {@link EXIT_MISSING_PACKAGE};
 * any other error propagates.
 */
export async function runBin(program: string, argv: readonly string[], load: () => Promise<Program>, stderr: (text: string) => void = (text) => process.stderr.write(`${text}\n`)): Promise<number> {
  try {
    const main = await load();
    return await main(argv);
  } catch (error) {
    const pkg = missingPackageOf(error);
    if (pkg === undefined) throw error;
    stderr(missingPackageMessage(program, pkg, wantsHelp(argv)));
    return EXIT_MISSING_PACKAGE;
  }
}
