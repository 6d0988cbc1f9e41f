/**
 * How one property-test command is applied to an engine, shared by the in-memory harness and the
 * worker processes (worker.ts), so every engine in a property run takes commands the same way.
 * The clock is positional: at command i it reads START plus every `advance` up to and including
 * i, so a process that starts in the middle of a sequence (a restart, the second of two engines)
 * has the same time as one that ran it from the beginning.
 */
import type { LifecycleEngine } from '../../adapters/engine/index.js';
import { isLifecycleError } from '../../adapters/errors.js';
import { parseEnvelope } from '../../machines/contracts/events.js';
import { batchIdOf } from '../../machines/routing.js';
import type { Command } from './commands.js';

/** The clock of every property run at its first command. */
export const START = Date.parse('2026-01-01T08:00:00.000Z');

/** Codes that refuse input without writing anything: the command is not taken. */
const NOT_TAKEN = ['INVALID_ENVELOPE', 'UNKNOWN_EVENT_TYPE', 'ENTITY_NOT_FOUND'] as const;

/** What a command did: `accepted` / `refused` (first delivery, written), `duplicate`, `invalid` (nothing written), or timers fired. */
export type StepOutcome = 'accepted' | 'refused' | 'duplicate' | 'invalid' | `fired:${number}`;

/** Applies one command (the clock must already read `clockAt(commands, index)`). */
export async function applyCommand(engine: LifecycleEngine, command: Command): Promise<StepOutcome> {
  if (command.kind === 'advance') return `fired:${(await engine.fireDueTimers()).length}`;
  try {
    const answer = await engine.dispatch(command.envelope);
    return answer.outcome === 'duplicate' ? 'duplicate' : answer.outcome === 'refused' ? 'refused' : 'accepted';
  } catch (error) {
    if (isLifecycleError(error, ...NOT_TAKEN)) return 'invalid';
    throw error;
  }
}

/** Whether an outcome wrote the command's event (its event id is then in the inbox for good). */
export function wroteEvent(outcome: StepOutcome): boolean {
  return outcome === 'accepted' || outcome === 'refused';
}

/** The clock at each command (milliseconds): START plus every advance up to and including it. */
export function clockTimes(commands: readonly Command[]): number[] {
  let now = START;
  return commands.map((command) => (now += command.kind === 'advance' ? command.ms : 0));
}

/** The event id of a dispatch command (undefined for an advance or an envelope without a string id). */
export function eventIdOf(command: Command): string | undefined {
  if (command.kind !== 'dispatch') return undefined;
  const id = command.envelope.event_id;
  return typeof id === 'string' ? id : undefined;
}

/**
 * The batch a command belongs to, as the engine routes it; `'-'` for an advance and for an
 * envelope the engine refuses unread (its order against other commands does not matter).
 */
export function batchKeyOf(command: Command): string {
  if (command.kind !== 'dispatch') return '-';
  const parsed = parseEnvelope(command.envelope);
  return parsed.ok ? batchIdOf(parsed.envelope) : '-';
}
