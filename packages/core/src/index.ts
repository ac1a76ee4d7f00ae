export { InMemoryCore, type InMemoryCoreOptions } from './core.js';
export { isValidEntityId } from './entity-id.js';
export { formatTimestamp } from './timestamp.js';
export { createUlidGenerator } from './ulid.js';
