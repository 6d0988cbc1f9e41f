/**
 * `GET /machines` and `GET /machines/:name`: the engine's machines as JSON definitions or
 * SVG diagrams (adapters/visual), optionally with states highlighted. Public: a definition
 * describes behaviour, not anybody's data. Results are cached (machines never change at run time).
 */
import type { Request, Response, Router } from 'express';
import { LifecycleError } from '../errors.js';
import { machineDefinition } from '../visual/definition.js';
import { renderSvg } from '../visual/svg.js';
import { parseWith, pathId } from './access.js';
import type { HttpContext } from './context.js';
import { writable } from './limits.js';
import { MachineQuery } from './schemas.js';

const MAX_ACTIVE = 50;
const MAX_CACHED_SVGS = 200;

function activeStates(active: string | undefined): string[] {
  if (active === undefined) return [];
  return [...new Set(active.split(',').map((name) => name.trim()).filter((name) => name !== ''))].slice(0, MAX_ACTIVE).sort();
}

function wantsSvg(req: Request, format: 'json' | 'svg' | undefined): boolean {
  if (format !== undefined) return format === 'svg';
  return req.accepts(['application/json', 'image/svg+xml']) === 'image/svg+xml';
}

/** Adds the machine routes to `router`. */
export function machineRoutes(router: Router, ctx: HttpContext): void {
  const definitions = new Map<string, unknown>();
  const svgs = new Map<string, string>();

  const machineOf = (name: string) => {
    const machine = Object.hasOwn(ctx.engine.machines, name) ? ctx.engine.machines[name] : undefined;
    if (machine === undefined) {
      throw new LifecycleError('ENTITY_NOT_FOUND', `no machine "${name.slice(0, 100)}" (machines: ${Object.keys(ctx.engine.machines).join(', ')})`, { details: { machine: name.slice(0, 100) } });
    }
    return machine;
  };

  const definitionOf = (name: string): unknown => {
    if (!definitions.has(name)) definitions.set(name, machineDefinition(machineOf(name).logic));
    return definitions.get(name);
  };

  const svgOf = async (name: string, active: readonly string[]): Promise<string> => {
    const key = `${name}|${active.join(',')}`;
    const cached = svgs.get(key);
    if (cached !== undefined) return cached;
    const svg = await renderSvg(machineOf(name).logic, active.length === 0 ? {} : { active });
    if (svgs.size >= MAX_CACHED_SVGS) svgs.clear();
    svgs.set(key, svg);
    return svg;
  };

  router.get('/machines', (_req, res: Response) => {
    const machines = Object.values(ctx.engine.machines).map((machine) => ({
      id: machine.id,
      version: machine.version,
      definition_url: `/machines/${machine.id}`,
      svg_url: `/machines/${machine.id}?format=svg`,
    }));
    res.status(200).json({ machines });
  });

  router.get('/machines/:name', async (req, res) => {
    const name = pathId(req, 'name');
    const query = parseWith(MachineQuery, req.query, 'query');
    machineOf(name);
    res.vary('Accept');
    if (wantsSvg(req, query.format)) {
      const svg = await svgOf(name, activeStates(query.active));
      if (writable(res)) res.status(200).type('image/svg+xml; charset=utf-8').send(svg);
      return;
    }
    if (writable(res)) res.status(200).json({ id: name, version: machineOf(name).version, definition: definitionOf(name) });
  });
}
