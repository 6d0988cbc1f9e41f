/**
 * CPU time of processes, read from Linux's /proc (user + system time of each process, in clock
 * ticks). Cost per event in CPU-seconds does not depend on how many cores a machine has, unlike
 * throughput: on a 2-core machine 4 worker processes share the cores with PostgreSQL and NATS.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const value = Number(out.stdout.trim());
    ticksPerSecond = out.status === 0 && Number.isInteger(value) && value > 0 ? value : 100;
  }
  return ticksPerSecond;
}

/** True where /proc can be read (Linux). */
export function cpuAccountingAvailable(): boolean {
  return existsSync('/proc/self/stat');
}

/** User + system CPU seconds a process has used so far (0 once it has exited). */
export function cpuSecondsOf(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  // The command name (field 2) is in parentheses and may hold spaces: split after its closing one.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / clockTicks();
}

/** The ids of running processes whose command name is one of `names` (e.g. `postgres`, `nats-server`). */
export function pidsNamed(names: readonly string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (names.includes(readFileSync(`/proc/${entry}/comm`, 'utf8').trim())) pids.push(Number(entry));
    } catch {
      // The process exited while we looked.
    }
  }
  return pids;
}

/** CPU seconds of each process of each group, at one moment. */
export type CpuSample = ReadonlyMap<string, ReadonlyMap<number, number>>;

/** Samples the CPU seconds of each process of each group (a group: a list of pids). */
export function sampleCpu(groups: Readonly<Record<string, readonly number[]>>): CpuSample {
  return new Map(Object.entries(groups).map(([name, pids]) => [name, new Map(pids.map((pid) => [pid, cpuSecondsOf(pid)]))]));
}

/**
 * CPU seconds each group used between two samples. A process that started in between counts whole
 * (a server backend opened for the run); one that exited in between cannot be read and is left out.
 */
export function cpuBetween(before: CpuSample, after: CpuSample): Record<string, number> {
  const used: Record<string, number> = {};
  for (const [name, processes] of after) {
    let seconds = 0;
    for (const [pid, now] of processes) seconds += Math.max(0, now - (before.get(name)?.get(pid) ?? 0));
    used[name] = seconds;
  }
  return used;
}

/** Kernel counters of a process: read and write system calls, and context switches (voluntary: it waited; involuntary: preempted). */
export interface ProcessCounters {
  readonly syscalls: number;
  readonly voluntarySwitches: number;
  readonly involuntarySwitches: number;
}

const ZERO_COUNTERS: ProcessCounters = { syscalls: 0, voluntarySwitches: 0, involuntarySwitches: 0 };

/** The counters of a process: its system calls, its main thread's context switches (zeros once it has exited or where /proc hides them). */
export function countersOf(pid: number): ProcessCounters {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (text: string, name: string): number => Number(new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(text)?.[1] ?? 0);
    return {
      syscalls: field(io, 'syscr') + field(io, 'syscw'),
      voluntarySwitches: field(status, 'voluntary_ctxt_switches'),
      involuntarySwitches: field(status, 'nonvoluntary_ctxt_switches'),
    };
  } catch {
    return ZERO_COUNTERS;
  }
}

/** The counters of several processes, summed. */
export function countersOfAll(pids: readonly number[]): ProcessCounters {
  return pids.map(countersOf).reduce(
    (sum, c) => ({ syscalls: sum.syscalls + c.syscalls, voluntarySwitches: sum.voluntarySwitches + c.voluntarySwitches, involuntarySwitches: sum.involuntarySwitches + c.involuntarySwitches }),
    ZERO_COUNTERS,
  );
}
