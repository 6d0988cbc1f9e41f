// @ts-check
/* global document, history, location, setTimeout */
/**
 * The demo page: batches, the selected batch's facts, suggestions, essays and history, the
 * machines as SVG diagrams with the selected batch's states lit, and live counts per state.
 * Everything refreshes on the live stream (GET /stream); actions call the batch routes.
 */
import { api, ApiError, followStream, HistoryCursor, machineSvg, setToken, token } from './api.js';
import { refreshOperator, wireOperator } from './operator.js';
import { byId, FINAL_BATCH_STATUSES, renderAssociations, renderBatchList, renderDiagram, renderEssays, renderFacts, renderHistory } from './render.js';

/** @typedef {import('./api.js').BatchDetail} BatchDetail */
/** @typedef {import('./api.js').BatchSummary} BatchSummary */
/** @typedef {import('./api.js').EssayView} EssayView */
/** @typedef {import('./api.js').MachineInfo} MachineInfo */
/** @typedef {import('./render.js').Suggestion} Suggestion */

const state = {
  /** @type {string | null} */
  selected: null,
  /** @type {BatchDetail | null} */
  detail: null,
  /** @type {EssayView[]} */
  essays: [],
  /** @type {MachineInfo[]} */
  machines: [],
  /** @type {Record<string, Record<string, number>>} */
  counts: {},
  /** Which active states each shown SVG has lit (re-fetched only when this changes). @type {Map<string, string>} */
  shown: new Map(),
  /** @type {{ batch: HistoryCursor, tracker: HistoryCursor, associations: HistoryCursor } | null} */
  cursors: null,
};

/**
 * @param {string} text
 * @param {boolean} [isError]
 */
function say(text, isError = false) {
  const message = byId('action-message');
  message.textContent = text;
  message.className = isError ? 'message error' : 'message';
}

/** @param {unknown} error */
function explain(error) {
  if (error instanceof ApiError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** The suggestions NLP made for the selected batch (the first suggestion per essay counts). @returns {Suggestion[]} */
function suggestions() {
  const first = state.cursors?.associations.rows[0];
  const envelope = /** @type {{ data?: { match_results?: Array<{ essay_id: string, suggestions?: Array<{ student_id: string, student_name?: string, confidence_score: number }> }> } } | undefined} */ (
    first?.envelope
  );
  return (envelope?.data?.match_results ?? []).map((result) => {
    const top = result.suggestions?.[0];
    return { essay_id: result.essay_id, student_id: top?.student_id ?? null, student_name: top?.student_name ?? null, confidence: top?.confidence_score ?? null };
  });
}

/** @param {string} machine @returns {string[]} */
function activeFor(machine) {
  if (state.detail === null || state.cursors === null) return [];
  switch (machine) {
    case 'batch':
      return [state.detail.status];
    case 'essay':
      return [...new Set(state.essays.map((essay) => essay.status))].sort();
    case 'batch_tracker':
      return state.cursors.tracker.status === null ? [] : [state.cursors.tracker.status];
    case 'associations':
      return state.cursors.associations.status === null ? [] : [state.cursors.associations.status];
    default:
      return [];
  }
}

function updateButtons() {
  const status = state.detail?.status ?? null;
  const open = status !== null && !FINAL_BATCH_STATUSES.has(status);
  const pending = state.cursors?.associations.status === 'pending_validation';
  /** @type {Array<[string, boolean]>} */
  const rules = [
    ['confirm-associations', status === 'awaiting_student_validation' && pending],
    ['request-pipeline', status === 'ready_for_pipeline_execution'],
    ['attach-prompt', open && status !== 'processing_pipelines'],
    ['close-batch', status === 'ready_for_pipeline_execution'],
    ['cancel-batch', open],
  ];
  for (const [id, enabled] of rules) byId(id).toggleAttribute('disabled', !enabled);
}

async function refreshList() {
  const { batches } = /** @type {{ batches: BatchSummary[] }} */ (await api('GET', '/batches?limit=200'));
  renderBatchList([...batches].reverse(), state.selected, (id) => void select(id));
}

async function refreshCounts() {
  const { by_machine } = /** @type {{ by_machine: Record<string, Record<string, number>> }} */ (await api('GET', '/counts'));
  state.counts = by_machine;
}

async function refreshSelected() {
  const id = state.selected;
  if (id === null || state.cursors === null) {
    state.detail = null;
    state.essays = [];
  } else {
    const path = `/batches/${encodeURIComponent(id)}`;
    const [detailAnswer, essaysAnswer] = await Promise.all([api('GET', path), api('GET', `${path}/essays`)]);
    const detail = /** @type {BatchDetail} */ (detailAnswer);
    const essays = /** @type {{ essays: EssayView[] }} */ (essaysAnswer);
    await Promise.all([state.cursors.batch.update(), state.cursors.tracker.update(), state.cursors.associations.update()]);
    if (state.selected !== id) return;
    state.detail = detail;
    state.essays = essays.essays;
  }
  renderFacts(state.detail);
  renderEssays(state.essays);
  renderAssociations(suggestions(), state.cursors?.associations.status ?? null);
  renderHistory(state.cursors?.batch.rows ?? []);
  updateButtons();
}

async function refreshDiagrams() {
  await Promise.all(
    state.machines.map(async (machine) => {
      const active = activeFor(machine.id);
      const key = active.join(',');
      const svg = state.shown.get(machine.id) === key ? undefined : await machineSvg(machine, active);
      state.shown.set(machine.id, key);
      renderDiagram(machine.id, svg, state.counts[machine.id] ?? {}, active);
    }),
  );
}

let refreshing = false;
let again = false;
let timer = /** @type {ReturnType<typeof setTimeout> | undefined} */ (undefined);

/** Refreshes everything now; overlapping calls coalesce into one more round. */
async function refreshAll() {
  if (refreshing) {
    again = true;
    return;
  }
  refreshing = true;
  try {
    do {
      again = false;
      // The operator panel refreshes beside the rest, never holding a round (or the first connect) up.
      refreshOperator().catch((error) => say(`operator panel: ${explain(error)}`, true));
      await Promise.all([refreshList(), refreshCounts(), refreshSelected()]);
      await refreshDiagrams();
    } while (again);
    document.body.dataset.refreshed = new Date().toISOString();
  } catch (error) {
    say(`refresh failed: ${explain(error)}`, true);
  } finally {
    refreshing = false;
  }
}

/** Refreshes soon (many stream rows arrive per commit). */
function scheduleRefresh() {
  if (timer !== undefined) return;
  timer = setTimeout(() => {
    timer = undefined;
    void refreshAll();
  }, 120);
}

/** @param {string} batchId */
async function select(batchId) {
  state.selected = batchId;
  state.cursors = {
    batch: new HistoryCursor('batch', batchId),
    tracker: new HistoryCursor('batch_tracker', batchId),
    associations: new HistoryCursor('associations', batchId),
  };
  history.replaceState(null, '', `#${encodeURIComponent(batchId)}`);
  say('');
  await refreshAll();
}

/**
 * What an accepted action led to: a pipeline request the batch parked (it needs a prompt) is
 * not "done".
 * @param {string} label
 * @param {unknown} answer the route's answer: `status` is the batch's status after the command
 */
function outcomeText(label, answer) {
  const body = /** @type {{ status?: unknown, to?: unknown } | null} */ (answer);
  const status = body?.status ?? body?.to;
  return status === 'awaiting_pipeline_configuration' ? `${label}: parked: attach a prompt to start` : `${label}: done`;
}

/**
 * Runs one action against the selected batch and reports the outcome.
 * @param {string} label
 * @param {(batchId: string) => Promise<unknown>} action
 */
async function act(label, action) {
  const id = state.selected;
  if (id === null) return say('select a batch first', true);
  try {
    say(outcomeText(label, await action(id)));
  } catch (error) {
    say(`${label} failed: ${explain(error)}`, true);
  }
  await refreshAll();
}

/** @param {'GUEST' | 'REGULAR'} kind */
async function register(kind) {
  const count = Number(/** @type {HTMLInputElement} */ (byId('essay-count')).value) || 5;
  const prompt = /** @type {HTMLInputElement} */ (byId('register-prompt-ref')).value.trim();
  const classId = /** @type {HTMLInputElement} */ (byId('class-id')).value.trim();
  const body = {
    expected_essay_count: count,
    course_code: /** @type {HTMLSelectElement} */ (byId('course-code')).value,
    ...(kind === 'REGULAR' ? { class_id: classId === '' ? 'class-9a' : classId } : {}),
    ...(prompt === '' ? {} : { student_prompt_ref: prompt }),
  };
  try {
    const created = /** @type {{ batch_id: string }} */ (await api('POST', '/batches', body));
    await select(created.batch_id);
    say(`registered ${kind} batch ${created.batch_id}`);
  } catch (error) {
    say(`registration failed: ${explain(error)}`, true);
  }
}

function wire() {
  /** @type {Array<[string, () => unknown]>} */
  const handlers = [
    ['register-guest', () => register('GUEST')],
    ['register-regular', () => register('REGULAR')],
    ['confirm-associations', () => act('confirm associations', (id) => {
      const associations = suggestions().flatMap((s) => (s.student_id === null ? [] : [{ essay_id: s.essay_id, student_id: s.student_id, confirmed: true }]));
      return api('POST', `/batches/${encodeURIComponent(id)}/student-associations/confirm`, { associations });
    })],
    ['request-pipeline', () => act('request pipeline', (id) => {
      const requested_pipeline = /** @type {HTMLSelectElement} */ (byId('pipeline-select')).value;
      return api('POST', `/batches/${encodeURIComponent(id)}/pipelines`, { requested_pipeline });
    })],
    ['attach-prompt', () => act('attach prompt', (id) => {
      const student_prompt_ref = /** @type {HTMLInputElement} */ (byId('attach-prompt-ref')).value.trim() || 'prompt-essay-1';
      return api('PATCH', `/batches/${encodeURIComponent(id)}/prompt`, { student_prompt_ref });
    })],
    ['close-batch', () => act('close', (id) => api('POST', `/batches/${encodeURIComponent(id)}/close`, {}))],
    ['cancel-batch', () => act('cancel', (id) => api('POST', `/batches/${encodeURIComponent(id)}/cancel`, { reason: 'cancelled from the demo page' }))],
  ];
  for (const [id, handler] of handlers) byId(id).addEventListener('click', () => void handler());
  wireOperator(() => state.selected, (label, action) => act(label, () => action()));
  const tokenInput = /** @type {HTMLInputElement} */ (byId('auth-token'));
  tokenInput.value = token();
  tokenInput.addEventListener('change', () => {
    setToken(tokenInput.value.trim());
    location.reload();
  });
}

/** @param {boolean} live */
function showLive(live) {
  const indicator = byId('live-indicator');
  indicator.textContent = live ? 'live' : 'offline (reconnecting)';
  indicator.className = `indicator ${live ? 'online' : 'offline'}`;
  if (live) scheduleRefresh();
}

async function main() {
  wire();
  try {
    const { machines } = /** @type {{ machines: MachineInfo[] }} */ (await api('GET', '/machines'));
    state.machines = machines;
  } catch (error) {
    say(`cannot load the machines: ${explain(error)}`, true);
  }
  const fromHash = decodeURIComponent(location.hash.slice(1));
  if (fromHash !== '') await select(fromHash);
  else await refreshAll();
  followStream(() => scheduleRefresh(), showLive);
}

void main();
