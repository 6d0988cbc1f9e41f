/**
 * How many runs each property test makes: its own default (chosen so the whole property suite adds
 * about a minute to `npm test` on a 2-core machine; test/property/README.md has the figures), or
 * the environment's. `npm run test:deep` sets both variables.
 */

function fromEnvironment(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

/** The runs of an in-process property: PROPERTY_RUNS, else `fallback`. */
export function propertyRuns(fallback: number): number {
  return fromEnvironment('PROPERTY_RUNS', fallback);
}

/**
 * The runs of a property that starts a child process per run (crash points): PROPERTY_PROCESS_RUNS,
 * else `fallback`. Counted apart from PROPERTY_RUNS: a run costs a process start (about a second).
 */
export function processRuns(fallback: number): number {
  return fromEnvironment('PROPERTY_PROCESS_RUNS', fallback);
}
