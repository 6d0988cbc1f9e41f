/**
 * The code of docs/model-based-testing.md: a small express order service of "yours", its statechart,
 * and the generated paths driving the real service over HTTP, with a state assertion after every
 * step. `main({ bug })` runs it against a service with a deliberate bug, to show a failure.
 * `realSystem` is the same model as a module export, for `lifecycle-gen-tests --real-system`.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createMachine } from 'xstate';
import { planPaths, sampleEvents, testRealSystem, type RealSystemModel } from 'essay-lifecycle-statecharts/visual';

type OrderStatus = 'pending' | 'paid' | 'shipped' | 'cancelled';

/** The service under test: orders in memory, one route per command, 409 for a command out of turn. */
export function createOrderService(options: { bug?: 'pay-keeps-pending' } = {}): express.Express {
  const orders = new Map<string, OrderStatus>();
  const app = express();
  const move = (from: readonly OrderStatus[], to: OrderStatus) => (req: express.Request<{ id: string }>, res: express.Response): void => {
    const status = orders.get(req.params.id);
    if (status === undefined) {
      res.status(404).json({ error: 'no such order' });
      return;
    }
    if (!from.includes(status)) {
      res.status(409).json({ error: `order is ${status}` });
      return;
    }
    orders.set(req.params.id, to);
    res.json({ status: to });
  };
  app.post('/orders/:id', (req, res) => {
    orders.set(req.params.id, 'pending');
    res.status(201).json({ status: 'pending' });
  });
  app.post('/orders/:id/pay', move(['pending'], options.bug === 'pay-keeps-pending' ? 'pending' : 'paid'));
  app.post('/orders/:id/ship', move(['paid'], 'shipped'));
  app.post('/orders/:id/cancel', move(['pending', 'paid'], 'cancelled'));
  app.get('/orders/:id', (req, res) => {
    const status = orders.get(req.params.id);
    if (status === undefined) res.status(404).json({ error: 'no such order' });
    else res.json({ status });
  });
  return app;
}

/** The model of the service. */
export const orderMachine = createMachine({
  id: 'order',
  initial: 'pending',
  states: {
    pending: { on: { PAY: 'paid', CANCEL: 'cancelled' } },
    paid: { on: { SHIP: 'shipped', CANCEL: 'cancelled' } },
    shipped: { type: 'final' },
    cancelled: { type: 'final' },
  },
});

/** One path's system: the service's base URL and the order this path created. */
interface Order {
  readonly base: string;
  readonly id: string;
}

async function post(url: string): Promise<void> {
  const response = await fetch(url, { method: 'POST' });
  if (!response.ok) throw new Error(`POST ${url} answered ${response.status}`);
}

async function statusOf(order: Order): Promise<string> {
  const response = await fetch(`${order.base}/orders/${order.id}`);
  return ((await response.json()) as { status: string }).status;
}

const expectStatus = (expected: OrderStatus) => async (order: Order): Promise<void> => {
  const status = await statusOf(order);
  if (status !== expected) throw new Error(`GET /orders/${order.id} says "${status}"`);
};

/** The executors: one per event type, each performing the event on the real service. */
const ORDER_EVENTS: RealSystemModel<Order>['events'] = {
  PAY: (order) => post(`${order.base}/orders/${order.id}/pay`),
  SHIP: (order) => post(`${order.base}/orders/${order.id}/ship`),
  CANCEL: (order) => post(`${order.base}/orders/${order.id}/cancel`),
};

/** The state assertions: one per state, each asking the real service. */
const ORDER_STATES: RealSystemModel<Order>['states'] = {
  pending: expectStatus('pending'),
  paid: expectStatus('paid'),
  shipped: expectStatus('shipped'),
  cancelled: expectStatus('cancelled'),
};

/** The model of a service already running at `base`: each path creates its own order there. */
function orderModel(base: string): RealSystemModel<Order> {
  let next = 0;
  return {
    setup: async () => {
      const order = { base, id: `order-${(next += 1)}` };
      await post(`${base}/orders/${order.id}`);
      return order;
    },
    events: ORDER_EVENTS,
    states: ORDER_STATES,
  };
}

async function listen(app: express.Express): Promise<Server> {
  return new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
}

const baseOf = (server: Server): string => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

/**
 * The model as a module export, for `lifecycle-gen-tests --machine <this file>#orderMachine
 * --real-system <this file>`: each path gets a service of its own on a free port, started in
 * `setup` and stopped in `teardown`.
 */
export function orderRealSystem(options: { bug?: 'pay-keeps-pending' } = {}): RealSystemModel<Order & { readonly server: Server }> {
  return {
    setup: async () => {
      const server = await listen(createOrderService(options));
      const order = { base: baseOf(server), id: 'order-1', server };
      await post(`${order.base}/orders/${order.id}`);
      return order;
    },
    teardown: (order) => new Promise((resolve) => order.server.close(() => resolve())),
    events: ORDER_EVENTS,
    states: ORDER_STATES,
  };
}

/** What `--real-system` finds in this module (its `realSystem` export). */
export const realSystem = orderRealSystem();

/** Starts the service, drives it along every generated path, stops it; answers what was checked. */
export async function main(options: { bug?: 'pay-keeps-pending' } = {}): Promise<{ paths: number; steps: number; transitions: string; failures: string[] }> {
  const server = await listen(createOrderService(options));
  try {
    const base = baseOf(server);
    const seed = { name: 'default' };
    const plan = planPaths({ machine: orderMachine, seeds: [seed], events: sampleEvents(orderMachine) });
    const model = orderModel(base);
    const failures: string[] = [];
    let steps = 0;
    for (const path of plan.paths) {
      try {
        steps += (await testRealSystem(orderMachine, seed, path, model)).steps;
      } catch (error) {
        failures.push(error instanceof Error ? error.message : String(error));
      }
    }
    const { taken, total } = plan.coverage.transitions;
    return { paths: plan.paths.length, steps, transitions: `${taken}/${total}`, failures };
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}
