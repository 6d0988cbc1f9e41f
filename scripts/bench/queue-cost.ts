/**
 * Cost per event of the PostgreSQL + NATS worker deployments, as the bench reports it.
 *
 * The per-event figure is MARGINAL: the slope of CPU-seconds against events between a burst of N
 * and a burst of 3N envelopes on the same warmed-up deployment, so what a deployment pays once
 * (process start-up, JIT warm-up, a burst's start and tail) is not spread over the events. Nothing
 * paid per event is subtracted: the idle polling that runs during the longer burst stays in the
 * slope. The fixed costs are reported apart: start-up CPU per process, the warm-up burst's average,
 * and the idle CPU per second (what each worker costs doing nothing).
 */
import { summarize, type Figure, type Rate } from './figures.js';
import type { BurstCost, DeploymentSummary, GroupSeconds } from './queue-workers.js';

/** The groups a cost is split into, in print order. */
export const GROUPS = ['workers', 'postgres', 'nats'] as const;

/** Two bursts on the same warmed-up deployment, the second three times the first. */
export interface BurstPair {
  readonly small: BurstCost;
  readonly large: BurstCost;
}

/** How the bursts were published: as fast as they go, or at a fixed rate. */
export type Regime = 'saturated' | 'paced';

/** What one round of one deployment measured. */
export interface RoundCost {
  readonly workers: number;
  /** CPU-seconds of start-up (spawn to ready), per worker process. */
  readonly startupSecondsPerProcess: number;
  /** The warm-up burst (the first events a fresh deployment applies). */
  readonly warmUp: BurstCost;
  /** CPU of an idle window, and how long it was (s). */
  readonly idle: { readonly cpu: GroupSeconds; readonly seconds: number };
  readonly saturated: BurstPair;
  readonly paced: BurstPair;
  readonly summary: DeploymentSummary;
}

const total = (cpu: GroupSeconds): number => Object.values(cpu).reduce((a, b) => a + b, 0);

/** CPU ms per event by group: the slope between the small and the large burst of a regime. */
export function marginalMs(round: RoundCost, regime: Regime): Record<string, number> {
  const { small, large } = round[regime];
  const events = large.events - small.events;
  return Object.fromEntries(GROUPS.map((g) => [g, (((large.cpu[g] ?? 0) - (small.cpu[g] ?? 0)) * 1000) / events]));
}

/** CPU ms per event by group of a whole burst (start, tail and polling included). */
export function averageMs(burst: BurstCost): Record<string, number> {
  return Object.fromEntries(GROUPS.map((g) => [g, ((burst.cpu[g] ?? 0) * 1000) / burst.events]));
}

/** CPU ms per second by group while idle. */
export function idleMsPerSecond(round: RoundCost): Record<string, number> {
  return Object.fromEntries(GROUPS.map((g) => [g, ((round.idle.cpu[g] ?? 0) * 1000) / round.idle.seconds]));
}

/** The part of the marginal cost that is the idle rate running for the longer burst's extra time (already in the slope; shown, not subtracted). */
export function idleShareMs(round: RoundCost, regime: Regime): number {
  const { small, large } = round[regime];
  const extraSeconds = Math.max(0, large.seconds - small.seconds);
  return (total(idleMsPerSecond(round)) * extraSeconds) / (large.events - small.events);
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

/** `median (min-max)` of values, with a warning when the spread is over 15% of the median. */
function spread(values: readonly number[], digits = 3): string {
  const m = median(values);
  if (values.length < 2) return `${m.toFixed(digits)} (1 round)`;
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const width = (hi - lo) / m;
  return `${m.toFixed(digits)} (${lo.toFixed(digits)}-${hi.toFixed(digits)}${width > 0.15 ? `, spread ${(width * 100).toFixed(0)}% WARNING` : ''})`;
}

/** The large bursts' throughput of each deployment size, as figures (median and spread over rounds). */
export function throughputFigures(rounds: readonly RoundCost[], name: (workers: number) => string): Figure[] {
  const sizes = [...new Set(rounds.map((r) => r.workers))];
  return sizes.map((workers) =>
    summarize(
      rounds
        .filter((r) => r.workers === workers)
        .map(({ saturated: { large } }): Rate => ({ name: name(workers), events: large.events, seconds: large.seconds, perSecond: large.events / large.seconds })),
    ),
  );
}

/** The marginal total of each round of `workers`. */
function marginalTotals(rounds: readonly RoundCost[], workers: number, regime: Regime): number[] {
  return rounds.filter((r) => r.workers === workers).map((r) => total(marginalMs(r, regime)));
}

/** The W-worker / 1-worker ratio of the median marginal cost, and the per-round ratios (rounds are paired by index). */
export function scalingRatio(rounds: readonly RoundCost[], workers: number, regime: Regime): { ratio: number; perRound: number[] } | undefined {
  const one = marginalTotals(rounds, 1, regime);
  const many = marginalTotals(rounds, workers, regime);
  if (one.length === 0 || many.length === 0) return undefined;
  return { ratio: median(many) / median(one), perRound: many.slice(0, one.length).map((m, i) => m / one[i]!) };
}

const processes = (workers: number): string => `${workers} worker process${workers === 1 ? '' : 'es'}`;

/** Per deployment size: the marginal cost of a regime, by group, with the idle polling it holds. */
function marginalLines(rounds: readonly RoundCost[], sizes: readonly number[], regime: Regime): string[] {
  const { small, large } = rounds[0]![regime];
  const how = regime === 'saturated' ? 'published as fast as they go' : `published at about ${(large.events / large.seconds).toFixed(0)}/s`;
  const lines = [`# ${regime}: marginal = slope between a burst of ${small.events} and one of ${large.events}, ${how}, on warmed-up workers (idle polling during the longer burst stays in)`];
  for (const workers of sizes) {
    const mine = rounds.filter((r) => r.workers === workers);
    const byGroup = GROUPS.map((g) => `${g} ${median(mine.map((r) => marginalMs(r, regime)[g]!)).toFixed(3)}`).join('  ');
    lines.push(`${`${processes(workers)}: ${regime}`.padEnd(34)} ${spread(marginalTotals(rounds, workers, regime))} ms/event  (${byGroup}; idle polling in it ${median(mine.map((r) => idleShareMs(r, regime))).toFixed(3)})`);
  }
  return lines;
}

/** Per deployment size: start-up, warm-up, whole-burst average and idle cost. */
function fixedCostLines(rounds: readonly RoundCost[], sizes: readonly number[]): string[] {
  const lines = ['# fixed costs (not per event): what a deployment pays once, or per second whatever the load'];
  for (const workers of sizes) {
    const mine = rounds.filter((r) => r.workers === workers);
    const idle = GROUPS.map((g) => `${g} ${median(mine.map((r) => idleMsPerSecond(r)[g]!)).toFixed(1)}`).join('  ');
    lines.push(
      `${processes(workers).padEnd(22)} start-up ${spread(mine.map((r) => r.startupSecondsPerProcess), 2)} CPU-s/process;` +
        `  warm-up burst (${mine[0]!.warmUp.events}) ${spread(mine.map((r) => total(averageMs(r.warmUp))))} ms/event;` +
        `  whole ${mine[0]!.saturated.large.events}-burst average ${spread(mine.map((r) => total(averageMs(r.saturated.large))))} ms/event;  idle ${spread(mine.map((r) => total(idleMsPerSecond(r))), 1)} CPU-ms/s (${idle})`,
    );
  }
  return lines;
}

/** Per deployment size: transactions, statements and NATS messages per event, and the workers' kernel work. */
function trafficLines(rounds: readonly RoundCost[], sizes: readonly number[]): string[] {
  const lines = [
    "# traffic per event over each deployment's life (every burst, the idle window): consumer groups (a transaction each when it holds messages of its partition; groups of only other partitions' messages count too), PostgreSQL statements (scans + rows written in its schema), NATS messages in + out of the workers",
  ];
  const events = (r: RoundCost): number => [r.warmUp, r.saturated.small, r.saturated.large, r.paced.small, r.paced.large].reduce((n, b) => n + b.events, 0);
  for (const workers of sizes) {
    const mine = rounds.filter((r) => r.workers === workers);
    const nats = mine.every((r) => r.summary.natsMessages !== undefined) ? spread(mine.map((r) => r.summary.natsMessages! / events(r)), 2) : 'n/a';
    lines.push(
      `${processes(workers).padEnd(22)} groups/1000 events ${spread(mine.map((r) => (1000 * r.summary.groups) / events(r)), 1)};  statements/event ${spread(mine.map((r) => r.summary.statements / events(r)), 2)};  NATS msgs/event ${nats}`,
    );
  }
  lines.push("# the worker processes' kernel work per event (saturated, marginal): read + write system calls, main-thread context switches (voluntary: waited for I/O; involuntary: preempted)");
  for (const workers of sizes) {
    const mine = rounds.filter((r) => r.workers === workers);
    const slope = (pick: (c: BurstCost['workerCounters']) => number): number[] =>
      mine.map(({ saturated: { small, large } }) => (pick(large.workerCounters) - pick(small.workerCounters)) / (large.events - small.events));
    lines.push(
      `${processes(workers).padEnd(22)} syscalls/event ${spread(slope((c) => c.syscalls), 2)};  voluntary switches/event ${spread(slope((c) => c.voluntarySwitches), 3)};  involuntary ${spread(slope((c) => c.involuntarySwitches), 3)}`,
    );
  }
  return lines;
}

/** The report lines of the cost section; the target (4 workers at most 1.2x one worker per event) is judged on the saturated marginal cost. */
export function costLines(rounds: readonly RoundCost[], targetLine: (label: string, value: number, met: boolean) => string): string[] {
  if (rounds.length === 0) return [];
  const sizes = [...new Set(rounds.map((r) => r.workers))].sort((a, b) => a - b);
  const count = rounds.filter((r) => r.workers === sizes[0]).length;
  const lines = [
    `# queue cost per event (CPU ms/event; median (min-max) of ${count} rounds; processes: the workers, the PostgreSQL backends serving them + its background writers, the NATS server)`,
    ...marginalLines(rounds, sizes, 'saturated'),
    ...marginalLines(rounds, sizes, 'paced'),
    ...fixedCostLines(rounds, sizes),
    ...trafficLines(rounds, sizes),
  ];
  for (const regime of ['saturated', 'paced'] as const) {
    for (const workers of sizes.filter((w) => w > 1)) {
      const scaling = scalingRatio(rounds, workers, regime);
      if (scaling === undefined) continue;
      const perRound = `rounds: ${scaling.perRound.map((r) => r.toFixed(2)).join(', ')}`;
      const label = `CPU per event (marginal, ${regime}), ${workers} worker processes / 1 worker process`;
      if (workers === 4 && regime === 'saturated') lines.push(`${targetLine(label, scaling.ratio, scaling.ratio <= 1.2)}  ${perRound}`);
      else lines.push(`${label.padEnd(70)} ${scaling.ratio.toFixed(2)}x  ${perRound}${workers === 4 ? '  (the target is judged on the saturated figure)' : ''}`);
    }
  }
  return lines;
}
