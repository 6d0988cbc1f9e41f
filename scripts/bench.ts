#!/usr/bin/env node
/**
 * npm run bench: speed targets live here, never in timed tests. Every ratio compares two
 * figures measured in this same run on this machine.
 *   BENCH_SCALE=0.25 npm run bench   (quicker, noisier)
 *   BENCH_ONLY=queue,http npm run bench   (sections: engine, queue, http, paths, invariants; default all)
 *   BENCH_ROUNDS=5 npm run bench   (engine and http figures: median of this many interleaved rounds, default 3)
 *   BENCH_POSTGRES_URL / BENCH_NATS_URL (else TEST_POSTGRES_URL / TEST_NATS_URL, else
 *   postgres://postgres@127.0.0.1:5432/test and nats://127.0.0.1:4222): the queue section's servers;
 *   its PostgreSQL and NATS rows are skipped, with the reason printed, when they are unreachable.
 */
import { benchEngine, type Rate } from './bench/engine.js';
import { benchHttp, HTTP_CONNECTIONS, HTTP_GROUP, type HttpRate } from './bench/http.js';
import { benchQueue } from './bench/queue.js';
import { benchInvariants } from './bench/invariants.js';
import { measurePathGeneration } from './bench-paths.js';

const SECTIONS = ['engine', 'queue', 'http', 'paths', 'invariants'] as const;
type Section = (typeof SECTIONS)[number];

function find(rates: readonly Rate[], name: string): Rate {
  const found = rates.find((r) => r.name === name);
  if (found === undefined) throw new Error(`no measurement named "${name}"`);
  return found;
}

function line(rate: Rate): string {
  return `${rate.name.padEnd(52)} ${rate.perSecond.toFixed(0).padStart(10)} events/s  (${rate.events} in ${rate.seconds.toFixed(2)} s)`;
}

function ratio(label: string, a: Rate, b: Rate, target: number): string {
  const value = a.perSecond / b.perSecond;
  return `${label.padEnd(70)} ${value.toFixed(2)}x  (target >= ${target}x: ${value >= target ? 'met' : 'NOT met'})`;
}

/** A ratio without a target (context, not a goal). */
function info(label: string, a: Rate, b: Rate): string {
  return `${label.padEnd(70)} ${(a.perSecond / b.perSecond).toFixed(2)}x`;
}

function httpLine(rate: HttpRate): string {
  return `${rate.name.padEnd(52)} ${rate.requestsPerSecond.toFixed(0).padStart(10)} req/s ${rate.eventsPerSecond.toFixed(0).padStart(8)} events/s  p50 ${rate.p50Ms.toFixed(1)} ms  p99 ${rate.p99Ms.toFixed(1)} ms  (${rate.requests} in ${rate.seconds.toFixed(1)} s)`;
}

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

async function engineSection(scale: number, rounds: number): Promise<void> {
  console.log(`# engine (node ${process.version}, scale ${scale})`);
  console.log(`(each figure: median of ${rounds} interleaved rounds)`);
  const rates = await benchEngine(scale, rounds);
  for (const rate of rates) console.log(line(rate));
  console.log('');
  console.log('# ratios (same run)');
  const floorNormal = find(rates, 'raw durable floor (synchronous NORMAL)');
  const floorFull = find(rates, 'raw durable floor (synchronous FULL)');
  console.log(ratio('engine dispatch / raw durable floor, NORMAL', find(rates, 'engine dispatch (synchronous NORMAL)'), floorNormal, 0.8));
  console.log(ratio('engine dispatch / raw durable floor, FULL', find(rates, 'engine dispatch (synchronous FULL)'), floorFull, 0.8));
  console.log(ratio('engine dispatchMany x200 FULL / raw durable floor NORMAL', find(rates, 'engine dispatchMany x200 (synchronous FULL)'), floorNormal, 2));
  // The library's own group limit (HTTP groupCommitEvents and eventsPerRequest default 1000).
  console.log(ratio('engine dispatchMany x1000 FULL / raw durable floor NORMAL', find(rates, 'engine dispatchMany x1000 (synchronous FULL)'), floorNormal, 2));
  console.log(info('engine dispatch, entity cache off / raw durable floor, NORMAL (context)', find(rates, 'engine dispatch (synchronous NORMAL, entity cache off)'), floorNormal));
  console.log(ratio('engine dispatch NORMAL / raw XState transition (memory)', find(rates, 'engine dispatch (synchronous NORMAL)'), find(rates, 'raw XState transition (memory)'), 0));
  console.log(ratio('engine dispatch NORMAL / raw better-sqlite3 row update NORMAL', find(rates, 'engine dispatch (synchronous NORMAL)'), find(rates, 'raw better-sqlite3 row update (synchronous NORMAL)'), 0));
}

async function queueSection(scale: number): Promise<void> {
  console.log(`# queue (scale ${scale})`);
  const postgresUrl = process.env.BENCH_POSTGRES_URL ?? process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const natsUrl = process.env.BENCH_NATS_URL ?? process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
  const { rates, anchor, notes } = await benchQueue(scale, { postgresUrl, natsUrl });
  if (anchor !== undefined) console.log(line(anchor));
  for (const rate of rates) console.log(line(rate));
  for (const note of notes) console.log(`(${note})`);
  console.log('');
  console.log('# queue ratios (same run)');
  if (anchor === undefined) {
    console.log('(no PostgreSQL anchor in this run: ratios skipped)');
    return;
  }
  for (const rate of rates) console.log(info(`${rate.name} / PG UPDATE tx`, rate, anchor));
  const one = rates.find((r) => r.name.includes(', 1 worker process'));
  const four = rates.find((r) => r.name.includes(', 4 worker processes'));
  if (one !== undefined && four !== undefined) console.log(info('PostgreSQL + NATS, 4 worker processes / 1 worker process', four, one));
}

async function httpSection(scale: number, rounds: number): Promise<void> {
  console.log(`# http (autocannon in this process, ${HTTP_CONNECTIONS} connections, scale ${scale}; median of ${rounds} interleaved rounds)`);
  const [floor, single, grouped] = await benchHttp(scale, rounds);
  if (floor === undefined || single === undefined || grouped === undefined) throw new Error('the http bench measured nothing');
  for (const rate of [floor, single, grouped]) console.log(httpLine(rate));
  console.log('');
  console.log('# http ratios (same run)');
  const reqRatio = single.requestsPerSecond / floor.requestsPerSecond;
  console.log(targetLine('createApp 1 event req/s / bare express durable floor req/s', reqRatio, 'x', reqRatio >= 1, '>= 1x'));
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
  const rounds = Number(process.env.BENCH_ROUNDS ?? '3');
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`BENCH_ROUNDS must be a positive integer, got "${process.env.BENCH_ROUNDS}"`);
  if (!Number.isFinite(scale) || scale <= 0) throw new Error(`BENCH_SCALE must be a positive number, got "${process.env.BENCH_SCALE}"`);
  const only = sectionsOf(process.env.BENCH_ONLY);
  const run: Array<() => Promise<void>> = [];
  if (only.has('engine')) run.push(() => engineSection(scale, rounds));
  if (only.has('queue')) run.push(() => queueSection(scale));
  if (only.has('http')) run.push(() => httpSection(scale, rounds));
  if (only.has('paths')) run.push(() => pathsSection());
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
