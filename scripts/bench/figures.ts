/**
 * How the bench measures and reports a figure: each round runs for at least `BENCH_SECONDS`
 * (default 3) of measured time, a figure is the median of its interleaved rounds, and the spread
 * (min-max over rounds) is printed beside it with a warning when it exceeds 15% of the median.
 */

/** One measured rate (one round). */
export interface Rate {
  readonly name: string;
  readonly events: number;
  readonly seconds: number;
  readonly perSecond: number;
  /**
   * CPU time of this process per event (µs, user + system) over the timed chunks: what the event
   * cost the machine, steadier than wall time on a shared one (but blind to I/O waits, e.g. fsync).
   */
  readonly cpuUsPerEvent?: number;
}

/** A figure: its median round, and the slowest and fastest round's rate. */
export interface Figure extends Rate {
  readonly rounds: number;
  readonly minPerSecond: number;
  readonly maxPerSecond: number;
}

/** Above this spread ((max - min) / median) a figure is flagged as untrustworthy. */
export const SPREAD_WARNING = 0.15;

/** The measured seconds each round of a figure runs for at least (BENCH_SECONDS, default 3). */
export function minimumSeconds(): number {
  const raw = process.env.BENCH_SECONDS ?? '3';
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`BENCH_SECONDS must be a positive number, got "${raw}"`);
  return seconds;
}

/**
 * Runs `run(prepare())` chunk after chunk until the measured time reaches `seconds`; only `run` is
 * timed (building inputs is not). `run` answers how many events it processed.
 */
export async function runFor<T>(name: string, seconds: number, prepare: (chunk: number) => T, run: (input: T) => number | Promise<number>): Promise<Rate> {
  const budget = BigInt(Math.round(seconds * 1e9));
  let spent = 0n;
  let events = 0;
  let cpuUs = 0;
  for (let chunk = 0; spent < budget; chunk += 1) {
    const input = prepare(chunk);
    const cpuBefore = process.cpuUsage();
    const started = process.hrtime.bigint();
    events += await run(input);
    spent += process.hrtime.bigint() - started;
    const cpu = process.cpuUsage(cpuBefore);
    cpuUs += cpu.user + cpu.system;
  }
  const elapsed = Number(spent) / 1e9;
  return { name, events, seconds: elapsed, perSecond: events / elapsed, cpuUsPerEvent: cpuUs / events };
}

/**
 * The median round of a figure, with the spread of its rounds. Its CPU per event is the median of
 * the rounds' own (not the CPU of the median-rate round): a round slowed by a busy neighbour is
 * slow in wall time but not always in CPU time.
 */
export function summarize(rounds: readonly Rate[]): Figure {
  if (rounds.length === 0) throw new Error('a figure needs at least one round');
  const sorted = [...rounds].sort((x, y) => x.perSecond - y.perSecond);
  const middle = sorted[Math.floor(sorted.length / 2)] as Rate;
  const cpus = rounds.flatMap((round) => (round.cpuUsPerEvent === undefined ? [] : [round.cpuUsPerEvent]));
  const cpu = cpus.length === rounds.length ? { cpuUsPerEvent: spreadOfValues(cpus).median } : {};
  return { ...middle, ...cpu, rounds: sorted.length, minPerSecond: (sorted[0] as Rate).perSecond, maxPerSecond: (sorted[sorted.length - 1] as Rate).perSecond };
}

/** Median (the upper one of an even count, as a figure's median round) and min-max of some values (at least one). */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export function spreadOfValues(values: readonly number[]): Spread {
  if (values.length === 0) throw new Error('a spread needs at least one value');
  const sorted = [...values].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)] as number, min: sorted[0] as number, max: sorted.at(-1) as number };
}

/** The spread of a figure as a fraction of its median. */
export function spreadOf(figure: Figure): number {
  return (figure.maxPerSecond - figure.minPerSecond) / figure.perSecond;
}

/** `min-max` beside a median, with a warning mark when the spread is over SPREAD_WARNING. */
export function spreadNote(figure: Figure): string {
  if (figure.rounds < 2) return '(1 round: no spread)';
  const spread = spreadOf(figure);
  const note = `spread ${figure.minPerSecond.toFixed(0)}-${figure.maxPerSecond.toFixed(0)} (${(spread * 100).toFixed(0)}%)`;
  return spread > SPREAD_WARNING ? `${note}  WARNING: spread over ${SPREAD_WARNING * 100}% (busy machine? more BENCH_ROUNDS)` : note;
}

/**
 * Measures every figure `rounds` times, interleaved round by round (a floor and the engine it is
 * compared with see the same machine load), and summarizes each.
 */
export async function interleaved(figures: ReadonlyArray<() => Rate | Promise<Rate>>, rounds: number): Promise<Figure[]> {
  const measured: Rate[][] = figures.map(() => []);
  for (let round = 0; round < rounds; round += 1) {
    for (const [index, figure] of figures.entries()) measured[index]?.push(await figure());
  }
  return measured.map(summarize);
}

/** The first of these environment variables that is set and not empty (an empty value counts as unset). */
export function firstSetting(...names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = process.env[name]?.trim();
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}
