// @ts-check
/* global document */
/**
 * Zoom and pan for a machine diagram: − / fit / + buttons in the figure's caption, Ctrl (or ⌘)
 * + wheel (a trackpad pinch) zooms around the pointer, dragging pans, + / − / 0 on the focused
 * diagram zoom from the keyboard. A diagram opens at the smallest zoom at which its state names
 * are readable in its panel (fit when they already are: the small machines), so the 31 states of
 * the essay machine are not 6 px text at first sight. The zoom level survives a redraw of the SVG
 * (a new set of lit states), so a reader keeps their place while the batch moves on.
 */

/** Zoom levels, as multiples of the width that fits the box. */
const LEVELS = [1, 1.5, 2, 3, 4, 6];

/** Size (CSS px) of a state's name from which it reads comfortably. */
export const READABLE_PX = 12;

/**
 * The zoom level a diagram opens at: the smallest at which the names of its states are at least
 * READABLE_PX tall in `box`. At fit (×1) a diagram is drawn at its own size or shrunk to the box's
 * width, whichever is smaller; at level k its width is LEVELS[k] times the box's.
 * @param {HTMLElement} box
 * @returns {number} index into LEVELS
 */
export function readableLevel(box) {
  const svg = box.querySelector('svg');
  const width = svg?.viewBox.baseVal?.width ?? 0;
  const font = Number.parseFloat(box.querySelector('g.node text')?.getAttribute('font-size') ?? '');
  if (svg === null || width <= 0 || !Number.isFinite(font) || box.clientWidth === 0) return 0;
  const natural = Number.parseFloat(svg.getAttribute('width') ?? '') * (svg.getAttribute('width')?.endsWith('pt') ? 4 / 3 : 1);
  const fitted = Math.min(Number.isFinite(natural) && natural > 0 ? natural : Infinity, box.clientWidth);
  const index = LEVELS.findIndex((factor, level) => (font * (level === 0 ? fitted : box.clientWidth * factor)) / width >= READABLE_PX);
  return index === -1 ? LEVELS.length - 1 : index;
}

/** @param {HTMLElement} box @returns {number} index into LEVELS */
function levelOf(box) {
  const index = Number(box.dataset.zoom ?? '0');
  return Number.isInteger(index) && index >= 0 && index < LEVELS.length ? index : 0;
}

/**
 * Sizes the box's SVG for its zoom level (call after every redraw).
 * @param {HTMLElement} box
 */
export function applyZoom(box) {
  const svg = box.querySelector('svg');
  if (svg === null) return;
  if (box.dataset.zoom === undefined && box.clientWidth > 0) box.dataset.zoom = String(readableLevel(box));
  const factor = LEVELS[levelOf(box)] ?? 1;
  box.classList.toggle('zoomed', factor > 1);
  svg.style.width = factor > 1 ? `${Math.round(box.clientWidth * factor)}px` : '';
  const label = box.parentElement?.querySelector('.zoom-level');
  if (label !== null && label !== undefined) label.textContent = `×${factor}`;
}

/**
 * Sets the zoom level, keeping the point at (x, y) of the box (default: its centre) in place.
 * @param {HTMLElement} box
 * @param {number} index
 * @param {{ x: number, y: number }} [at] offsets inside the box's visible area
 */
function zoomTo(box, index, at = { x: box.clientWidth / 2, y: box.clientHeight / 2 }) {
  const next = Math.min(Math.max(index, 0), LEVELS.length - 1);
  const before = box.scrollWidth;
  const anchor = { x: box.scrollLeft + at.x, y: box.scrollTop + at.y };
  box.dataset.zoom = String(next);
  applyZoom(box);
  const ratio = before === 0 ? 1 : box.scrollWidth / before;
  box.scrollLeft = anchor.x * ratio - at.x;
  box.scrollTop = anchor.y * ratio - at.y;
}

/**
 * @param {string} text
 * @param {string} label
 * @param {() => void} onClick
 */
function button(text, label, onClick) {
  const element = document.createElement('button');
  element.type = 'button';
  element.className = 'zoom-button';
  element.textContent = text;
  element.setAttribute('aria-label', label);
  element.title = label;
  element.addEventListener('click', onClick);
  return element;
}

/** @param {HTMLElement} box */
function enablePan(box) {
  /** @type {{ x: number, y: number, left: number, top: number } | null} */
  let drag = null;
  box.addEventListener('pointerdown', (event) => {
    if (!box.classList.contains('zoomed') || event.button !== 0) return;
    drag = { x: event.clientX, y: event.clientY, left: box.scrollLeft, top: box.scrollTop };
    box.setPointerCapture(event.pointerId);
    box.classList.add('panning');
  });
  box.addEventListener('pointermove', (event) => {
    if (drag === null) return;
    box.scrollLeft = drag.left - (event.clientX - drag.x);
    box.scrollTop = drag.top - (event.clientY - drag.y);
  });
  const end = () => {
    drag = null;
    box.classList.remove('panning');
  };
  box.addEventListener('pointerup', end);
  box.addEventListener('pointercancel', end);
}

/**
 * Adds the zoom controls to `caption` and the wheel, drag and keyboard handling to `box`.
 * @param {HTMLElement} box the scrollable element holding the SVG
 * @param {HTMLElement} caption where the buttons go
 * @param {string} machine for the buttons' labels
 */
export function enableZoom(box, caption, machine) {
  const controls = document.createElement('span');
  controls.className = 'zoom-controls';
  controls.setAttribute('role', 'group');
  controls.setAttribute('aria-label', `Zoom the ${machine} diagram`);
  const level = document.createElement('span');
  level.className = 'zoom-level';
  level.textContent = '×1';
  controls.append(
    button('−', `Zoom out (${machine})`, () => zoomTo(box, levelOf(box) - 1)),
    level,
    button('+', `Zoom in (${machine})`, () => zoomTo(box, levelOf(box) + 1)),
    button('fit', `Fit the whole ${machine} diagram`, () => zoomTo(box, 0)),
  );
  caption.append(controls);
  box.tabIndex = 0;
  box.addEventListener('wheel', (event) => {
    if (!event.ctrlKey && !event.metaKey) return;
    event.preventDefault();
    const frame = box.getBoundingClientRect();
    zoomTo(box, levelOf(box) + (event.deltaY < 0 ? 1 : -1), { x: event.clientX - frame.left, y: event.clientY - frame.top });
  }, { passive: false });
  box.addEventListener('keydown', (event) => {
    const step = event.key === '+' || event.key === '=' ? 1 : event.key === '-' ? -1 : event.key === '0' ? -LEVELS.length : 0;
    if (step === 0) return;
    event.preventDefault();
    zoomTo(box, levelOf(box) + step);
  });
  enablePan(box);
}
