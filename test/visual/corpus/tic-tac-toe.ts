/**
 * Tic-tac-toe, from the XState examples (statelyai/xstate examples/tic-tac-toe-react/src/ticTacToeMachine.ts).
 * Its context holds `winner: undefined`, which once made the export drop the whole context (issue 19, defect 3).
 */
import { assign, createMachine, type EventObject, type SnapshotFrom } from 'xstate';

function assertEvent<TEvent extends EventObject, Type extends TEvent['type']>(ev: TEvent, type: Type): asserts ev is Extract<TEvent, { type: Type }> {
  if (ev.type !== type) throw new Error('Unexpected event type.');
}

type Player = 'x' | 'o';

const context = {
  board: Array(9).fill(null) as Array<Player | null>,
  moves: 0,
  player: 'x' as Player,
  winner: undefined as Player | undefined,
};

const winningLines = [
  [0, 1, 2],
  [3, 4, 5],
  [6, 7, 8],
  [0, 3, 6],
  [1, 4, 7],
  [2, 5, 8],
  [0, 4, 8],
  [2, 4, 6],
];

export const machine = createMachine(
  {
    id: 'ticTacToe',
    initial: 'playing',
    types: {} as { context: typeof context; events: { type: 'PLAY'; value: number } | { type: 'RESET' } },
    context,
    states: {
      playing: {
        always: [
          { target: 'gameOver.winner', guard: 'checkWin' },
          { target: 'gameOver.draw', guard: 'checkDraw' },
        ],
        on: { PLAY: [{ target: 'playing', guard: 'isValidMove', actions: 'updateBoard' }] },
      },
      gameOver: {
        initial: 'winner',
        states: { winner: { tags: 'winner', entry: 'setWinner' }, draw: { tags: 'draw' } },
        on: { RESET: { target: 'playing', actions: 'resetGame' } },
      },
    },
  },
  {
    actions: {
      updateBoard: assign({
        board: ({ context, event }) => {
          assertEvent(event, 'PLAY');
          const updatedBoard = [...context.board];
          updatedBoard[event.value] = context.player;
          return updatedBoard;
        },
        moves: ({ context }) => context.moves + 1,
        player: ({ context }) => (context.player === 'x' ? 'o' : 'x'),
      }),
      resetGame: assign(context),
      setWinner: assign({ winner: ({ context }) => (context.player === 'x' ? 'o' : 'x') }),
    },
    guards: {
      checkWin: ({ context }) => winningLines.some((line) => line.every((index) => context.board[index] === 'x') || line.every((index) => context.board[index] === 'o')),
      checkDraw: ({ context }) => context.moves === 9,
      isValidMove: ({ context, event }) => event.type === 'PLAY' && context.board[event.value] === null,
    },
  },
);

/** One PLAY per cell (the payload the machine needs); RESET is found by event discovery. */
export const events = Array.from({ length: 9 }, (_, value) => ({ type: 'PLAY', value }));

/** Keyed on the board, the raw value the guards read. */
export function serializeState(snapshot: SnapshotFrom<typeof machine>): string {
  return JSON.stringify([snapshot.value, snapshot.context.moves]);
}
