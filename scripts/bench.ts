#!/usr/bin/env node
/**
 * npm run bench: speed targets live here, never in timed tests. Every ratio compares two
 * figures measured in this same run on this machine.
 *   BENCH_SCALE=0.25 npm run bench   (quicker, noisier)
 */
import { benchEngine, type Rate } from './bench/engine.js';

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

async function main(): Promise<void> {
  const scale = Number(process.env.BENCH_SCALE ?? '1');
  if (!Number.isFinite(scale) || scale <= 0) throw new Error(`BENCH_SCALE must be a positive number, got "${process.env.BENCH_SCALE}"`);
  console.log(`# engine (node ${process.version}, scale ${scale})`);
  const rates = await benchEngine(scale);
  for (const rate of rates) console.log(line(rate));
  console.log('');
  console.log('# ratios (same run)');
  const floorNormal = find(rates, 'raw durable floor (synchronous NORMAL)');
  const floorFull = find(rates, 'raw durable floor (synchronous FULL)');
  console.log(ratio('engine dispatch / raw durable floor, NORMAL', find(rates, 'engine dispatch (synchronous NORMAL)'), floorNormal, 0.8));
  console.log(ratio('engine dispatch / raw durable floor, FULL', find(rates, 'engine dispatch (synchronous FULL)'), floorFull, 0.8));
  console.log(ratio('engine dispatchMany x200 FULL / raw durable floor NORMAL', find(rates, 'engine dispatchMany x200 (synchronous FULL)'), floorNormal, 2));
  console.log(ratio('engine dispatch NORMAL / raw XState transition (memory)', find(rates, 'engine dispatch (synchronous NORMAL)'), find(rates, 'raw XState transition (memory)'), 0));
  console.log(ratio('engine dispatch NORMAL / raw better-sqlite3 row update NORMAL', find(rates, 'engine dispatch (synchronous NORMAL)'), find(rates, 'raw better-sqlite3 row update (synchronous NORMAL)'), 0));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
