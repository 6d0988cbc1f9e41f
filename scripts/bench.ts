#!/usr/bin/env node
/**
 * npm run bench: speed targets live here, never in timed tests. Every ratio compares two
 * figures measured in this same run on this machine.
 *   BENCH_SECONDS=1 npm run bench   (measured seconds per round of each engine, ablation and http figure; default 3)
 *   BENCH_SCALE=0.25 npm run bench   (the queue section's workload; quicker, noisier)
 *   BENCH_ONLY=queue,http npm run bench   (sections: engine, ablation, queue, http, paths, scale, what-if, invariants; default all)
 *   BENCH_ROUNDS=5 npm run bench   (engine, ablation, http figures, the queue section's worker deployments and the
 *   scale section's largest batch: median of this many rounds, default 3; the spread min-max over rounds is printed
 *   beside each, with a warning over 15%)
 *   BENCH_CPU_PROF=/tmp/profiles (queue section: every worker process writes a V8 CPU profile, node --cpu-prof, there)
 *   BENCH_SCALE_SIZES=10,100,1000 (scale section: essays per batch, default 10,100,1000,10000);
 *   BENCH_SCALE_PG_SIZES (its PostgreSQL curve, default 10,100,1000; run when BENCH_POSTGRES_URL or
 *   TEST_POSTGRES_URL is set); BENCH_INVARIANTS=off|log|refuse (the scale section's engine option,
 *   default log, the engine's default: compare the modes' cost at a batch size)
 *   BENCH_POSTGRES_URL / BENCH_NATS_URL (else TEST_POSTGRES_URL / TEST_NATS_URL, else
 *   postgres://postgres@127.0.0.1:5432/test and nats://127.0.0.1:4222): the queue section's servers;
 *   its PostgreSQL and NATS rows are skipped, with the reason printed, when they are unreachable.
 */
import { benchAblation, EARNS } from './bench/ablation.js';
import { benchEngine } from './bench/engine.js';
import { firstSetting, minimumSeconds, spreadNote, SPREAD_WARNING, type Figure, type Rate } from './bench/figures.js';
import { benchHttp, HTTP_CONNECTIONS, HTTP_GROUP, type HttpFigure, type HttpRate } from './bench/http.js';
import { benchQueue } from './bench/queue.js';
import { costLines } from './bench/queue-cost.js';
import { benchWhatIf } from './bench/what-if.js';
import { benchInvariants } from './bench/invariants.js';
import { measurePathGeneration } from './bench-paths.js';
import { scaleSection } from './bench/scale-report.js';

const SECTIONS = ['engine', 'ablation', 'queue', 'http', 'paths', 'scale', 'what-if', 'invariants'] as const;
type Section = (typeof SECTIONS)[number];

function find<R extends Rate>(rates: readonly R[], name: string): R {
  const found = rates.find((r) => r.name === name);
  if (found === undefined) throw new Error(`no measurement named "${name}"`);
  return found;
}

function line(rate: Rate | Figure): string {
  const spread = 'rounds' in rate ? `  ${spreadNote(rate)}` : '';
  const cpu = rate.cpuUsPerEvent === undefined ? '' : `  CPU ${rate.cpuUsPerEvent.toFixed(1)} µs/event`;
  return `${rate.name.padEnd(56)} ${rate.perSecond.toFixed(0).padStart(10)} events/s  (${rate.events} in ${rate.seconds.toFixed(2)} s)${cpu}${spread}`;
}

/**
 * The same ratio in CPU time per event (b's CPU over a's): what each costs the machine, steadier than
 * throughput on a shared machine, blind to I/O waits (with FULL, the fsync the floor waits for too).
 */
function cpuRatio(label: string, a: Rate, b: Rate): string {
  if (a.cpuUsPerEvent === undefined || b.cpuUsPerEvent === undefined) return `${label.padEnd(70)} (no CPU figure)`;
  return `${`${label} (CPU per event)`.padEnd(70)} ${(b.cpuUsPerEvent / a.cpuUsPerEvent).toFixed(2)}x  (${a.cpuUsPerEvent.toFixed(1)} vs ${b.cpuUsPerEvent.toFixed(1)} µs)`;
}

function ratio(label: string, a: Rate, b: Rate, target: number): string {
  const value = a.perSecond / b.perSecond;
  return `${label.padEnd(70)} ${value.toFixed(2)}x  (target >= ${target}x: ${value >= target ? 'met' : 'NOT met'})`;
}

/** A ratio without a target (context, not a goal). */
function info(label: string, a: Rate, b: Rate): string {
  return `${label.padEnd(70)} ${(a.perSecond / b.perSecond).toFixed(2)}x`;
}

function httpSpread(rate: HttpFigure): string {
  if (rate.rounds < 2) return '(1 round: no spread)';
  const spread = (rate.maxRequestsPerSecond - rate.minRequestsPerSecond) / rate.requestsPerSecond;
  const note = `spread ${rate.minRequestsPerSecond.toFixed(0)}-${rate.maxRequestsPerSecond.toFixed(0)} req/s (${(spread * 100).toFixed(0)}%)`;
  return spread > SPREAD_WARNING ? `${note}  WARNING: spread over ${SPREAD_WARNING * 100}%, the machine was busy` : note;
}

function httpLine(rate: HttpFigure): string {
  return `${rate.name.padEnd(52)} ${rate.requestsPerSecond.toFixed(0).padStart(10)} req/s ${rate.eventsPerSecond.toFixed(0).padStart(8)} events/s  p50 ${rate.p50Ms.toFixed(1)} ms  p99 ${rate.p99Ms.toFixed(1)} ms  (${rate.requests} in ${rate.seconds.toFixed(1)} s)  ${httpSpread(rate)}`;
}

const httpRatio = (a: HttpRate, b: HttpRate): number => a.requestsPerSecond / b.requestsPerSecond;

function targetLine(label: string, value: number, unit: string, met: boolean, target: string): string {
  return `${label.padEnd(70)} ${value.toFixed(2)}${unit}  (target ${target}: ${met ? 'met' : 'NOT met'})`;
}

function sectionsOf(raw: string | undefined): Set<Section> {
  if (raw === undefined || raw.trim() === '') return new Set(SECTIONS);
  const names = raw.split(',').map((name) => name.trim()).filter((name) => name !== '');
  const unknown = names.filter((name) => !(SECTIONS as readonly string[]).includes(name));
  if (unknown.length > 0) throw new Error(`BENCH_ONLY names unknown sections (${unknown.join(', ')}); use any of ${SECTIONS.join(',')}`);
  return new Set(names as Section[]);
}

async function engineSection(seconds: number, rounds: number): Promise<void> {
  console.log(`# engine (node ${process.version})`);
  console.log(`(each figure: median of ${rounds} interleaved rounds of at least ${seconds} s measured)`);
  const rates = await benchEngine(seconds, rounds);
  for (const rate of rates) console.log(line(rate));
  console.log('');
  console.log('# ratios (same run)');
  const floorNormal = find(rates, 'raw durable floor (synchronous NORMAL)');
  const floorFull = find(rates, 'raw durable floor (synchronous FULL)');
  console.log(ratio('engine dispatch / raw durable floor, NORMAL', find(rates, 'engine dispatch (synchronous NORMAL)'), floorNormal, 1.2));
  console.log(cpuRatio('engine dispatch / raw durable floor, NORMAL', find(rates, 'engine dispatch (synchronous NORMAL)'), floorNormal));
  console.log(ratio('engine dispatch / raw durable floor, FULL', find(rates, 'engine dispatch (synchronous FULL)'), floorFull, 1.2));
  console.log(cpuRatio('engine dispatch / raw durable floor, FULL', find(rates, 'engine dispatch (synchronous FULL)'), floorFull));
  console.log(ratio('engine dispatchMany x200 FULL / raw durable floor NORMAL', find(rates, 'engine dispatchMany x200 (synchronous FULL)'), floorNormal, 2));
  // The library's own group limit (HTTP groupCommitEvents and eventsPerRequest default 1000).
  console.log(ratio('engine dispatchMany x1000 FULL / raw durable floor NORMAL', find(rates, 'engine dispatchMany x1000 (synchronous FULL)'), floorNormal, 2));
  console.log(info('engine dispatch, entity cache off / raw durable floor, NORMAL (context)', find(rates, 'engine dispatch (synchronous NORMAL, entity cache off)'), floorNormal));
  console.log(ratio('engine dispatch NORMAL / raw XState transition (memory)', find(rates, 'engine dispatch (synchronous NORMAL)'), find(rates, 'raw XState transition (memory)'), 0));
  console.log(ratio('engine dispatch NORMAL / raw better-sqlite3 row update NORMAL', find(rates, 'engine dispatch (synchronous NORMAL)'), find(rates, 'raw better-sqlite3 row update (synchronous NORMAL)'), 0));
}

async function ablationSection(seconds: number, rounds: number): Promise<void> {
  console.log(`# ablation: each speed trick on and off, same run (median of ${rounds} interleaved rounds of at least ${seconds} s)`);
  console.log('(the cross-request coalescer is in the http section; the lean inbox is a storage format, not a switch)');
  const rows = await benchAblation(seconds, rounds);
  console.log('(ratio: events/s with / without; CPU: CPU µs per event without / with, the steadier of the two on a shared machine)');
  console.log(`${'trick'.padEnd(52)} ${'figure'.padEnd(24)} ${'with'.padStart(9)} ${'without'.padStart(9)}  ratio    CPU`);
  for (const row of rows) {
    const value = row.with.perSecond / row.without.perSecond;
    const cpu = row.with.cpuUsPerEvent === undefined || row.without.cpuUsPerEvent === undefined ? undefined : row.without.cpuUsPerEvent / row.with.cpuUsPerEvent;
    const verdict = value >= EARNS || (cpu ?? 0) >= EARNS ? 'earns' : `under ${((EARNS - 1) * 100).toFixed(0)}%`;
    const cpuText = cpu === undefined ? '    -' : `${cpu.toFixed(2)}x`;
    console.log(`${row.trick.padEnd(52)} ${row.workload.padEnd(24)} ${row.with.perSecond.toFixed(0).padStart(9)} ${row.without.perSecond.toFixed(0).padStart(9)}  ${value.toFixed(2)}x  ${cpuText}  ${verdict}  (without: ${spreadNote(row.without)})`);
  }
  const figures = new Map(rows.map((row) => [row.workload, row.with]));
  for (const [workload, figure] of figures) console.log(`${`${workload}, every trick on`.padEnd(77)} ${spreadNote(figure)}`);
}

async function queueSection(scale: number, rounds: number): Promise<void> {
  console.log(`# queue (scale ${scale})`);
  const postgresUrl = firstSetting('BENCH_POSTGRES_URL', 'TEST_POSTGRES_URL') ?? 'postgres://postgres@127.0.0.1:5432/test';
  const natsUrl = firstSetting('BENCH_NATS_URL', 'TEST_NATS_URL') ?? 'nats://127.0.0.1:4222';
  const cpuProfileDir = firstSetting('BENCH_CPU_PROF');
  const { rates, workers, costs, anchor, notes } = await benchQueue(scale, { postgresUrl, natsUrl, rounds, ...(cpuProfileDir === undefined ? {} : { cpuProfileDir }) });
  if (anchor !== undefined) console.log(line(anchor));
  for (const rate of [...rates, ...workers]) console.log(line(rate));
  for (const note of notes) console.log(`(${note})`);
  console.log('');
  console.log('# queue ratios (same run)');
  if (anchor === undefined) {
    console.log('(no PostgreSQL anchor in this run: ratios skipped)');
    return;
  }
  for (const rate of [...rates, ...workers]) console.log(info(`${rate.name} / PG UPDATE tx`, rate, anchor));
  const one = workers.find((r) => r.name.includes(', 1 worker process'));
  const four = workers.find((r) => r.name.includes(', 4 worker processes'));
  if (one !== undefined && four !== undefined) console.log(info('PostgreSQL + NATS, 4 worker processes / 1 worker process', four, one));
  const cost = costLines(costs, (label, value, met) => targetLine(label, value, 'x', met, '<= 1.2x'));
  if (cost.length > 0) console.log(['', ...cost].join('\n'));
}

async function httpSection(seconds: number, rounds: number): Promise<void> {
  console.log(`# http (autocannon in this process, ${HTTP_CONNECTIONS} connections; median of ${rounds} interleaved rounds of ${seconds} s)`);
  const [floor, single, grouped, uncoalesced] = await benchHttp(seconds, rounds);
  if (floor === undefined || single === undefined || grouped === undefined || uncoalesced === undefined) throw new Error('the http bench measured nothing');
  for (const rate of [floor, single, grouped, uncoalesced]) console.log(httpLine(rate));
  console.log('');
  console.log('# http ratios (same run)');
  const reqRatio = httpRatio(single, floor);
  console.log(targetLine('createApp 1 event req/s / bare express durable floor req/s', reqRatio, 'x', reqRatio >= 1.5, '>= 1.5x'));
  const coalescer = httpRatio(single, uncoalesced);
  console.log(`${'ablation: cross-request coalescer, 1 event req/s on / off'.padEnd(70)} ${coalescer.toFixed(2)}x  ${coalescer >= EARNS ? 'earns' : 'under 5%'}`);
  console.log(`${'createApp 1 event p99 / bare express durable floor p99'.padEnd(70)} ${(single.p99Ms / floor.p99Ms).toFixed(2)}x  (${single.p99Ms.toFixed(1)} ms vs ${floor.p99Ms.toFixed(1)} ms)`);
  console.log(targetLine(`createApp { events: [${HTTP_GROUP}] } events/s`, grouped.eventsPerSecond, ' events/s', grouped.eventsPerSecond >= 10_000, '>= 10000 events/s'));
  console.log(`${`createApp { events: [${HTTP_GROUP}] } events/s / 1 event req/s`.padEnd(70)} ${(grouped.eventsPerSecond / single.requestsPerSecond).toFixed(2)}x`);
}

async function pathsSection(): Promise<void> {
  console.log('# path generation (transition-coverage paths, @xstate/graph)');
  const started = process.hrtime.bigint();
  const measures = await measurePathGeneration();
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  for (const m of measures) console.log(`${m.machine.padEnd(52)} ${String(m.paths).padStart(10)} paths  ${String(m.ms).padStart(8)} ms  (${m.steps} steps, ${m.vertices} vertices, ${m.edges} edges)`);
  const paths = measures.reduce((n, m) => n + m.paths, 0);
  const ms = measures.reduce((n, m) => n + m.ms, 0);
  console.log(`${'total'.padEnd(52)} ${String(paths).padStart(10)} paths  ${String(ms).padStart(8)} ms  (wall ${wallMs.toFixed(0)} ms with the simple-path counts)`);
  console.log('');
  console.log(targetLine('path generation, all machines (s)', ms / 1000, ' s', ms < 1000, '< 1 s'));
}

async function whatIfSection(scale: number): Promise<void> {
  const batches = Math.max(10, Math.round(2000 * scale));
  console.log(`# what-if replay (${batches} batches of 5 essays through the nlp pipeline, against the library's own machines)`);
  const m = await benchWhatIf(batches, 5);
  console.log(`${'what-if replay'.padEnd(52)} ${(m.steps / m.seconds).toFixed(0).padStart(10)} steps/s ${(m.entities / m.seconds).toFixed(0).padStart(8)} entities/s  (${m.entities} entities, ${m.steps} steps in ${m.seconds.toFixed(1)} s, ${m.diverged} diverged, ${m.progressCalls} progress calls)`);
  const how = typeof global.gc === 'function' ? 'live heap after gc' : 'heap incl. garbage: run with node --expose-gc for the live heap';
  console.log(`${'what-if replay: peak heap above its start'.padEnd(52)} ${m.peakHeapMb.toFixed(1).padStart(10)} MB  (${how}; one entity's history at a time)`);
}

/** The cost of each `invariants` mode of the engine (a figure, not a target). */
async function invariantsSection(scale: number): Promise<void> {
  console.log(`# invariants (engine option; GUEST batches of 10 essays through nlp, SQLite, scale ${scale})`);
  const results = await benchInvariants(scale);
  const off = results.find((result) => result.mode === 'off')?.perSecond ?? 1;
  for (const { mode, events, perSecond } of results) {
    console.log(`invariants: '${mode}'`.padEnd(52) + `${perSecond.toFixed(0).padStart(10)} events/s  (${events} events; ${((off / perSecond - 1) * 100).toFixed(1)}% slower than 'off')`);
  }
}

async function main(): Promise<void> {
  const scale = Number(process.env.BENCH_SCALE ?? '1');
  const seconds = minimumSeconds();
  const rounds = Number(process.env.BENCH_ROUNDS ?? '3');
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`BENCH_ROUNDS must be a positive integer, got "${process.env.BENCH_ROUNDS}"`);
  if (!Number.isFinite(scale) || scale <= 0) throw new Error(`BENCH_SCALE must be a positive number, got "${process.env.BENCH_SCALE}"`);
  const only = sectionsOf(process.env.BENCH_ONLY);
  const run: Array<() => Promise<void>> = [];
  if (only.has('engine')) run.push(() => engineSection(seconds, rounds));
  if (only.has('ablation')) run.push(() => ablationSection(seconds, rounds));
  if (only.has('queue')) run.push(() => queueSection(scale, rounds));
  if (only.has('http')) run.push(() => httpSection(seconds, rounds));
  if (only.has('paths')) run.push(() => pathsSection());
  if (only.has('scale')) run.push(() => scaleSection(rounds));
  if (only.has('what-if')) run.push(() => whatIfSection(scale));
  if (only.has('invariants')) run.push(() => invariantsSection(scale));
  for (const [i, section] of run.entries()) {
    if (i > 0) console.log('');
    await section();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
