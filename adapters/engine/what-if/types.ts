/** Types shared by the what-if replay. */
import type { LifecycleEnvelope } from '../../../machines/contracts/events.js';
import type { Delivery } from '../../../machines/routing.js';

/** Routing of envelopes to entities (the library's `route` by default). */
export type Route = (envelope: LifecycleEnvelope) => Delivery[];
