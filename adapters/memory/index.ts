/** An in-memory store honouring the whole store contract: for tests, examples and browsers. */
export { createMemoryStore, MemoryStore, type MemoryStoreOptions } from './store.js';
