/**
 * History states in path generation. A history state is a pseudo-state, never active: it counts as
 * reached when a transition enters it, and each configuration it restores is a coverage item of its
 * own (`<history id> <- <restored configuration>`). What history remembers is part of every vertex
 * key, so two snapshots that would restore different configurations are never merged.
 */
import type { AnyMachineSnapshot, AnyStateMachine, AnyStateNode } from 'xstate';
import { stateNodesOf } from '../names.js';

/** The name of one restore item: `<history state id> <- <restored state, relative to the history's parent>`. */
export function restoreItem(historyId: string, restored: string): string {
  return `${historyId} <- ${restored}`;
}

/**
 * The restore items of entering `history` in `snapshot`: the child its parent restored (shallow) or
 * every atomic state restored below its parent (deep).
 */
export function historyRestoreKeys(history: AnyStateNode, snapshot: AnyMachineSnapshot): string[] {
  const parent = history.parent;
  if (parent === undefined) return [];
  const below = snapshot._nodes.filter(
    (node) => node.path.length > parent.path.length && parent.path.every((key, index) => node.path[index] === key),
  );
  const shown = history.history === 'deep' ? below.filter((node) => node.type === 'atomic' || node.type === 'final') : below.filter((node) => node.parent === parent);
  return shown.map((node) => restoreItem(history.id, node.path.slice(parent.path.length).join('.')));
}

/**
 * Every restore item of the machine's history states: one per state a history state can restore,
 * the children (shallow) or atomic descendants (deep) of its parent, final ones excluded.
 */
export function possibleRestores(machine: AnyStateMachine): string[] {
  return stateNodesOf(machine)
    .filter((node) => node.type === 'history' && node.parent !== undefined)
    .flatMap((history) => {
      const parent = history.parent as AnyStateNode;
      const candidates =
        history.history === 'deep'
          ? stateNodesOf(machine).filter((node) => node.type === 'atomic' && node.path.length > parent.path.length && parent.path.every((key, index) => node.path[index] === key))
          : Object.values(parent.states).filter((node) => node.type !== 'history' && node.type !== 'final');
      return candidates.map((node) => restoreItem(history.id, node.path.slice(parent.path.length).join('.')));
    });
}

/** What history remembers in a snapshot, by history state id (empty when nothing is remembered). */
export function rememberedHistory(snapshot: AnyMachineSnapshot): Record<string, string[]> {
  const remembered: Record<string, string[]> = {};
  for (const [id, nodes] of Object.entries(snapshot.historyValue ?? {})) {
    remembered[id] = (nodes as readonly AnyStateNode[]).map((node) => node.id).sort();
  }
  return remembered;
}

/**
 * `key` extended with what history remembers in `snapshot` (unchanged when it remembers nothing,
 * so machines without history keep their keys).
 */
export function withHistory(key: string, snapshot: AnyMachineSnapshot): string {
  const remembered = rememberedHistory(snapshot);
  return Object.keys(remembered).length === 0 ? key : `${key}\u0000${JSON.stringify(remembered)}`;
}

/** The default vertex key: the JSON of the state value, plus what history remembers. */
export function serializeValue(snapshot: AnyMachineSnapshot): string {
  return withHistory(JSON.stringify(snapshot.value), snapshot);
}
