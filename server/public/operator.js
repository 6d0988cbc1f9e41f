// @ts-check
/* global Option */
/**
 * The demo page's operator panel, for admins only: it appears when `GET /dead-letters` answers
 * (the routes are admin only) and stays hidden on a 403. It shows the dead-letter count of the
 * server's queues and forces an entity into a named state with a reason (recorded in the audit
 * row with the principal; the batch history shows it), and retries a failed phase of the
 * selected batch (POST /batches/:id/retry-phase; the run shows under the batch's pipeline run).
 */
import { api, ApiError } from './api.js';
import { byId } from './render.js';

/**
 * @typedef {{ queue: string, total: number, pending: number }} DeadLetterCounts
 * @typedef {{ definition?: { states?: Record<string, unknown> } }} MachineAnswer
 */

/** Top-level states per machine, fetched once. @type {Map<string, string[]>} */
const statesOf = new Map();

/** Set once the server refused the operator routes: the page's principal is no admin (a new token reloads). */
let notAdmin = false;

/** Fills the target-state list with the states of the chosen machine. */
async function fillStates() {
  const machine = /** @type {HTMLSelectElement} */ (byId('force-machine')).value;
  if (!statesOf.has(machine)) {
    const answer = /** @type {MachineAnswer} */ (await api('GET', `/machines/${encodeURIComponent(machine)}`));
    statesOf.set(machine, Object.keys(answer.definition?.states ?? {}));
  }
  const select = /** @type {HTMLSelectElement} */ (byId('force-to'));
  select.replaceChildren(...(statesOf.get(machine) ?? []).map((state) => new Option(state, state)));
}

/**
 * Shows the panel with the dead-letter counts, or hides it when the caller is not an admin.
 * @returns {Promise<void>}
 */
export async function refreshOperator() {
  const panel = byId('operator-panel');
  if (notAdmin) return;
  try {
    const { counts } = /** @type {{ counts: DeadLetterCounts[] }} */ (await api('GET', '/dead-letters?limit=1'));
    const text = counts.length === 0 ? 'no queue on this server' : counts.map((c) => `${c.queue}: ${c.pending} pending of ${c.total}`).join(' · ');
    byId('dead-letter-count').textContent = text;
    if (panel.hidden) {
      panel.hidden = false;
      await fillStates();
    }
  } catch (error) {
    if (!(error instanceof ApiError) || (error.status !== 403 && error.status !== 401)) throw error;
    panel.hidden = true;
    notAdmin = true;
  }
}

/**
 * Wires the forced-transition and retry-phase forms.
 * @param {() => string | null} selectedBatch the selected batch (the default entity id)
 * @param {(label: string, action: () => Promise<unknown>) => Promise<void>} act runs an action and reports it
 */
export function wireOperator(selectedBatch, act) {
  byId('retry-phase-button').addEventListener('click', () => {
    const batch = selectedBatch() ?? '';
    const phase = /** @type {HTMLSelectElement} */ (byId('retry-phase')).value;
    const ids = /** @type {HTMLInputElement} */ (byId('retry-essays')).value.split(/[\s,]+/).filter((id) => id !== '');
    const reason = /** @type {HTMLInputElement} */ (byId('retry-reason')).value.trim();
    const body = ids.length === 0 ? { phase_name: phase, reason } : { phase_name: phase, essay_ids: ids, reason };
    void act(`retry ${phase} of ${batch}`, () => api('POST', `/batches/${encodeURIComponent(batch)}/retry-phase`, body));
  });
  byId('force-machine').addEventListener('change', () => void fillStates());
  byId('force-transition').addEventListener('click', () => {
    const machine = /** @type {HTMLSelectElement} */ (byId('force-machine')).value;
    const entity = /** @type {HTMLInputElement} */ (byId('force-entity')).value.trim() || selectedBatch() || '';
    const to = /** @type {HTMLSelectElement} */ (byId('force-to')).value;
    const reason = /** @type {HTMLInputElement} */ (byId('force-reason')).value.trim();
    void act(`force ${machine} ${entity} to ${to}`, () => api('POST', `/entities/${encodeURIComponent(machine)}/${encodeURIComponent(entity)}/force`, { to, reason }));
  });
}
