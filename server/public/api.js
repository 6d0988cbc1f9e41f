// @ts-check
/* global fetch, sessionStorage, setTimeout, TextDecoderStream, AbortController */
/**
 * The demo page's access to the HTTP API: JSON requests with the optional bearer token, the
 * live stream (read with fetch, so it can carry the Authorization header like every other
 * request), and incremental audit-history cursors.
 */

/**
 * @typedef {{ batch_id: string, status: string, client_status: string, class_type: string | null,
 *   course_code: string | null, expected_essay_count: number | null, created_at: string }} BatchSummary
 * @typedef {{ run_id: number, requested_pipeline: string, phases: string[], current_phase: string | null,
 *   phase_status: Record<string, string> }} RunView
 * @typedef {{ run_id: number, requested_pipeline: string, completed_phases: string[], final_status: string,
 *   successful_essay_count: number, failed_essay_count: number, excluded_essay_count: number }} RunSummary
 * @typedef {BatchSummary & { class_id: string | null, student_prompt_ref: string | null,
 *   essay_counts: { total: number, by_status: Record<string, number> }, pipeline: RunView | null,
 *   last_run: RunSummary | null, run_count: number, parked_pipeline: { requested_pipeline: string } | null,
 *   final_reason: string | null }} BatchDetail
 * @typedef {{ essay_id: string, status: string }} EssayView
 * @typedef {{ position: number, event_type: string, machine: string, entity_id: string, from_status: string | null,
 *   to_status: string | null, outcome: 'accepted' | 'refused', reason: string | null, recorded_at: string,
 *   envelope: unknown }} AuditRow
 * @typedef {{ machine: string, entity_id: string, batch_id: string | null, event_type: string,
 *   to_status: string | null, outcome: string }} StreamRow
 * @typedef {{ id: string, svg_url: string }} MachineInfo
 */

const TOKEN_KEY = 'lifecycle-demo-token';

/** An answer other than 2xx: the server's `{ code, message }`. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** @returns {string} */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

/** @param {string} value */
export function setToken(value) {
  if (value === '') sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, value);
}

/** @returns {Record<string, string>} */
function authHeaders() {
  const value = token();
  return value === '' ? {} : { Authorization: `Bearer ${value}` };
}

/**
 * @param {Response} res
 * @returns {Promise<ApiError>}
 */
async function errorOf(res) {
  /** @type {{ code?: unknown, message?: unknown }} */
  let body = {};
  try {
    /** @type {unknown} */
    const parsed = await res.json();
    if (typeof parsed === 'object' && parsed !== null) body = parsed;
  } catch {
    // not JSON: keep the status line
  }
  const code = typeof body.code === 'string' ? body.code : `HTTP_${res.status}`;
  const message = typeof body.message === 'string' ? body.message : res.statusText;
  return new ApiError(res.status, code, message);
}

/**
 * A JSON request. Resolves to the parsed answer (the caller states its type), rejects with ApiError.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<unknown>}
 */
export async function api(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json', ...authHeaders() };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  if (!res.ok) throw await errorOf(res);
  /** @type {unknown} */
  const answer = await res.json();
  return answer;
}

/**
 * The SVG of a machine with `active` states lit.
 * @param {MachineInfo} machine
 * @param {readonly string[]} active
 * @returns {Promise<string>}
 */
export async function machineSvg(machine, active) {
  const query = active.length === 0 ? '' : `&active=${encodeURIComponent(active.join(','))}`;
  const res = await fetch(`/machines/${encodeURIComponent(machine.id)}?format=svg${query}`, { headers: authHeaders() });
  if (!res.ok) throw await errorOf(res);
  return res.text();
}

/**
 * Follows one entity's audit history incrementally: each `update()` fetches only new rows.
 */
export class HistoryCursor {
  /**
   * @param {string} machine
   * @param {string} entityId
   */
  constructor(machine, entityId) {
    this.machine = machine;
    this.entityId = entityId;
    /** @type {AuditRow[]} */
    this.rows = [];
    this.after = 0;
  }

  /** The status after the last accepted row, or null when the entity has no history (yet). */
  get status() {
    for (let i = this.rows.length - 1; i >= 0; i -= 1) {
      const row = this.rows[i];
      if (row !== undefined && row.outcome === 'accepted' && row.to_status !== null) return row.to_status;
    }
    return null;
  }

  /** Fetches every row after the last one seen. A missing entity is simply empty. */
  async update() {
    const path = `/entities/${encodeURIComponent(this.machine)}/${encodeURIComponent(this.entityId)}/history`;
    for (;;) {
      /** @type {{ rows: AuditRow[], next_after: number | null }} */
      let page;
      try {
        page = /** @type {{ rows: AuditRow[], next_after: number | null }} */ (await api('GET', `${path}?limit=1000&after=${this.after}`));
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) return;
        throw error;
      }
      this.rows.push(...page.rows);
      if (page.next_after !== null) this.after = page.next_after;
      if (page.rows.length < 1000) return;
    }
  }
}

/**
 * Reads the live stream until it ends or fails; calls `onRow` per committed transition. The
 * stream reads the server's audit log: `resume.lastId` (the audit position of the last frame) is
 * sent as Last-Event-ID on a reconnect, so no commit is missed while the page was offline.
 * @param {(row: StreamRow) => void} onRow
 * @param {(live: boolean) => void} onLive
 * @param {AbortSignal} signal
 * @param {{ lastId: string | undefined }} resume
 */
async function readStream(onRow, onLive, signal, resume) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'text/event-stream', ...authHeaders() };
  if (resume.lastId !== undefined) headers['Last-Event-ID'] = resume.lastId;
  const res = await fetch('/stream', { headers, signal });
  if (!res.ok || res.body === null) throw await errorOf(res);
  onLive(true);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const id = frame.split('\n').find((line) => line.startsWith('id:'));
      if (id !== undefined) resume.lastId = id.slice(3).trim();
      const data = frame
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n');
      if (data === '') continue;
      /** @type {unknown} */
      const row = JSON.parse(data);
      onRow(/** @type {StreamRow} */ (row));
    }
  }
}

/**
 * Keeps the live stream open, reconnecting after a failure. Returns a function that stops it.
 * @param {(row: StreamRow) => void} onRow
 * @param {(live: boolean) => void} onLive
 * @returns {() => void}
 */
export function followStream(onRow, onLive) {
  const controller = new AbortController();
  /** @type {{ lastId: string | undefined }} */
  const resume = { lastId: undefined };
  const loop = async () => {
    while (!controller.signal.aborted) {
      try {
        await readStream(onRow, onLive, controller.signal, resume);
      } catch {
        // reconnect below
      }
      onLive(false);
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  };
  void loop();
  return () => controller.abort();
}
