// @ts-check
/* global document */
/**
 * DOM rendering of the demo page. Every value from the server goes in as text; only the
 * machine diagrams (SVG produced by the server itself) go in as markup.
 */

/** @typedef {import('./api.js').BatchSummary} BatchSummary */
/** @typedef {import('./api.js').BatchDetail} BatchDetail */
/** @typedef {import('./api.js').EssayView} EssayView */
/** @typedef {import('./api.js').AuditRow} AuditRow */

import { applyZoom, enableZoom } from './zoom.js';

/** Statuses a batch never leaves. */
export const FINAL_BATCH_STATUSES = new Set([
  'content_ingestion_failed',
  'completed_successfully',
  'completed_with_failures',
  'failed_critically',
  'cancelled',
]);

/**
 * The element with `id`; throws when the page lacks it (a bug in index.html).
 * @template {HTMLElement} [E=HTMLElement]
 * @param {string} id
 * @returns {E}
 */
export function byId(id) {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return /** @type {E} */ (element);
}

/**
 * @param {string} tag
 * @param {string} [text]
 * @param {string} [className]
 * @returns {HTMLElement}
 */
function el(tag, text, className) {
  const element = document.createElement(tag);
  if (text !== undefined) element.textContent = text;
  if (className !== undefined) element.className = className;
  return element;
}

/** @param {string} status */
function statusClass(status) {
  if (status === 'completed_successfully') return 'status final-ok';
  if (FINAL_BATCH_STATUSES.has(status)) return 'status final-bad';
  return 'status';
}

/**
 * @param {HTMLElement} body
 * @param {number} columns
 * @param {string} text
 */
function emptyRow(body, columns, text) {
  const cell = el('td', text, 'empty');
  cell.setAttribute('colspan', String(columns));
  const row = el('tr');
  row.append(cell);
  body.replaceChildren(row);
}

/**
 * The batch table; a click on a batch id selects it.
 * @param {readonly BatchSummary[]} batches
 * @param {string | null} selected
 * @param {(batchId: string) => void} onSelect
 */
export function renderBatchList(batches, selected, onSelect) {
  const body = byId('batch-rows');
  if (batches.length === 0) return emptyRow(body, 5, 'No batches yet.');
  body.replaceChildren(
    ...batches.map((batch) => {
      const row = el('tr');
      row.dataset.batchId = batch.batch_id;
      if (batch.batch_id === selected) row.className = 'selected';
      const select = /** @type {HTMLButtonElement} */ (el('button', batch.batch_id.slice(0, 8), 'link'));
      select.type = 'button';
      select.title = batch.batch_id;
      select.setAttribute('aria-label', `Select batch ${batch.batch_id}`);
      select.addEventListener('click', () => onSelect(batch.batch_id));
      const idCell = el('td');
      idCell.append(select);
      row.append(
        idCell,
        el('td', batch.class_type ?? '–'),
        el('td', batch.status, `batch-status ${statusClass(batch.status)}`),
        el('td', batch.client_status, 'client-status'),
        el('td', String(batch.expected_essay_count ?? '–')),
      );
      return row;
    }),
  );
}

/** @param {BatchDetail} batch */
function pipelineText(batch) {
  if (batch.pipeline !== null) {
    const phases = batch.pipeline.phases
      .map((phase) => `${phase}${phase === batch.pipeline?.current_phase ? ' (running)' : ''}: ${batch.pipeline?.phase_status[phase] ?? 'pending'}`)
      .join(', ');
    return `run ${batch.pipeline.run_id} ${batch.pipeline.requested_pipeline} — ${phases}`;
  }
  if (batch.parked_pipeline !== null) return `${batch.parked_pipeline.requested_pipeline} waiting for a prompt`;
  return 'none';
}

/** @param {BatchDetail} batch */
function lastRunText(batch) {
  const run = batch.last_run;
  if (run === null) return 'none';
  const excluded = run.excluded_essay_count > 0 ? `; ${run.excluded_essay_count} excluded before the run (failed an earlier phase)` : '';
  return `run ${run.run_id} ${run.requested_pipeline}: ${run.final_status} (${run.completed_phases.join(' → ')}; ${run.successful_essay_count} ok, ${run.failed_essay_count} failed${excluded})`;
}

/**
 * The selected batch's facts.
 * @param {BatchDetail | null} batch
 */
export function renderFacts(batch) {
  byId('selected-batch-id').textContent = batch?.batch_id ?? 'none';
  const status = byId('batch-status');
  status.textContent = batch?.status ?? '–';
  status.className = batch === null ? '' : statusClass(batch.status);
  byId('batch-client-status').textContent = batch?.client_status ?? '–';
  byId('batch-class-type').textContent = batch === null ? '–' : `${batch.class_type ?? '?'}${batch.class_id === null ? '' : ` (class ${batch.class_id})`}, ${batch.course_code ?? ''}`;
  byId('batch-prompt').textContent = batch === null ? '–' : (batch.student_prompt_ref ?? 'none');
  byId('batch-essay-counts').textContent =
    batch === null ? '–' : `${batch.essay_counts.total}: ${Object.entries(batch.essay_counts.by_status).map(([s, n]) => `${n} ${s}`).join(', ')}`;
  byId('batch-pipeline').textContent = batch === null ? '–' : pipelineText(batch);
  byId('batch-last-run').textContent = batch === null ? '–' : lastRunText(batch);
}

/**
 * @typedef {{ essay_id: string, student_id: string | null, student_name: string | null, confidence: number | null }} Suggestion
 */

/**
 * @param {readonly Suggestion[]} suggestions
 * @param {string | null} status the association entity's status
 */
export function renderAssociations(suggestions, status) {
  const body = byId('association-rows');
  if (suggestions.length === 0) return emptyRow(body, 3, status === null ? 'No suggestions (GUEST batch, or matching not done yet).' : status);
  body.replaceChildren(
    ...suggestions.map((s) => {
      const row = el('tr');
      row.append(
        el('td', s.essay_id.slice(0, 8)),
        el('td', s.student_id === null ? 'no match' : `${s.student_name ?? ''} (${s.student_id})`),
        el('td', s.confidence === null ? '–' : s.confidence.toFixed(2), s.confidence !== null && s.confidence >= 0.7 ? 'status final-ok' : 'status'),
      );
      return row;
    }),
  );
  const caption = el('tr');
  const cell = el('td', `associations: ${status ?? '–'}`, 'empty');
  cell.setAttribute('colspan', '3');
  caption.append(cell);
  body.append(caption);
}

/** @param {readonly EssayView[]} essays */
export function renderEssays(essays) {
  const body = byId('essay-rows');
  if (essays.length === 0) return emptyRow(body, 2, '–');
  body.replaceChildren(
    ...essays.map((essay) => {
      const row = el('tr');
      row.append(el('td', essay.essay_id.slice(0, 8)), el('td', essay.status, 'status'));
      return row;
    }),
  );
}

/**
 * Who forced a transition: the principal a forced row's envelope records.
 * @param {AuditRow} row
 */
function forcedBy(row) {
  const envelope = /** @type {{ data?: { principal?: { user_id?: unknown } } } | null} */ (row.envelope);
  const user = envelope?.data?.principal?.user_id;
  return typeof user === 'string' ? user : 'an operator';
}

/**
 * What an operator control adds to a history line: who forced a transition and why, or which
 * phase was retried, by whom and why.
 * @param {AuditRow} row
 */
function operatorNote(row) {
  if (row.event_type === 'lifecycle.operator.force') return ` (forced by ${forcedBy(row)}: ${row.reason ?? ''})`;
  if (row.event_type !== 'huleedu.commands.batch.phase.retry.v1' || row.outcome === 'refused') return '';
  const data = /** @type {{ data?: { phase_name?: unknown, user_id?: unknown, reason?: unknown } } | null} */ (row.envelope)?.data;
  return ` (${String(data?.phase_name)} retried by ${String(data?.user_id)}: ${String(data?.reason)})`;
}

/** @param {readonly AuditRow[]} rows */
export function renderHistory(rows) {
  byId('batch-history').replaceChildren(
    ...rows.map((row) => {
      const time = row.recorded_at.slice(11, 19);
      const change = row.outcome === 'refused' ? `refused in ${row.from_status ?? '?'}: ${row.reason ?? ''}` : `${row.from_status ?? '∅'} → ${row.to_status ?? '?'}`;
      const note = operatorNote(row);
      return el('li', `${time} ${row.event_type.replace(/^huleedu\./, '')}: ${change}${note}`, row.outcome === 'refused' ? 'refused' : note === '' ? undefined : 'forced');
    }),
  );
}

/**
 * Scrolls the diagram's box (not the page) so the node of `state` is in the middle. Graphviz
 * titles each node with its state id (`machine.state`).
 * @param {HTMLElement} box
 * @param {string | undefined} state
 */
function centerOn(box, state) {
  if (state === undefined) return;
  const title = [...box.querySelectorAll('g.node > title')].find((t) => t.textContent === state || (t.textContent ?? '').endsWith(`.${state}`));
  const node = title?.parentElement;
  if (node === null || node === undefined) return;
  const at = node.getBoundingClientRect();
  const frame = box.getBoundingClientRect();
  box.scrollTop += at.top - frame.top - (box.clientHeight - at.height) / 2;
  box.scrollLeft += at.left - frame.left - (box.clientWidth - at.width) / 2;
}

/**
 * One machine's figure (created on first use): the SVG with lit states and the live counts.
 * @param {string} machine
 * @param {string | undefined} svg new SVG markup, or undefined to keep the current one
 * @param {Record<string, number>} counts entities per state, all batches
 * @param {readonly string[]} active the selected batch's states of this machine
 */
export function renderDiagram(machine, svg, counts, active) {
  let figure = document.getElementById(`diagram-${machine}`);
  if (figure === null) {
    figure = el('figure', undefined, 'machine');
    figure.id = `diagram-${machine}`;
    const caption = el('figcaption');
    caption.append(el('span', machine), el('span', '', 'sub active-states'));
    const box = el('div', undefined, 'svg-box');
    box.setAttribute('role', 'img');
    box.setAttribute('aria-label', `${machine} state machine (zoom with the buttons, Ctrl + wheel or + and −; drag to pan)`);
    enableZoom(box, caption, machine);
    const list = el('ul', undefined, 'counts');
    list.id = `counts-${machine}`;
    list.setAttribute('aria-label', `${machine} entities per state`);
    figure.append(caption, box, list);
    byId('diagram-list').append(figure);
  }
  const activeLabel = figure.querySelector('.active-states');
  if (activeLabel !== null) activeLabel.textContent = active.length === 0 ? '' : `lit: ${active.join(', ')}`;
  const box = figure.querySelector('.svg-box');
  if (svg !== undefined && box instanceof HTMLElement) {
    const first = box.querySelector('svg') === null;
    box.innerHTML = svg;
    const width = Number.parseFloat(box.querySelector('svg')?.getAttribute('width') ?? '0');
    figure.classList.toggle('large', width > 600);
    applyZoom(box);
    // A lit state is brought into view; a diagram drawn for the first time with nothing lit opens
    // at its start (it may open zoomed in to be readable, see zoom.js).
    centerOn(box, active[0] ?? (first ? `${machine}.(initial)` : undefined));
  }
  const list = figure.querySelector('ul.counts');
  if (list === null) return;
  list.replaceChildren(
    ...Object.entries(counts).map(([state, count]) => {
      const item = el('li', `${state}: ${count}`, active.includes(state) ? 'lit' : undefined);
      item.dataset.state = state;
      item.dataset.count = String(count);
      return item;
    }),
  );
}
