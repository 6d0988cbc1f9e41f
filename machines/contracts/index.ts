/** The wire contracts: statuses, envelope, event schemas, outbound messages. */
export * from './statuses.js';
export * from './envelope.js';
export * from './payloads.js';
export * from './events.js';
export * from './messages.js';
export * from './machine-event.js';
export * from './declaration.js';
export * from './event-tables.js';
export * from './build.js';
export { ESSAY_TRIGGERS, type EssayTrigger } from './events-internal.js';
