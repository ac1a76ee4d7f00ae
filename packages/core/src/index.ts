export { InMemoryCore, type InMemoryCoreOptions } from './core.js';
export { isValidEntityId } from './entity-id.js';
/** Formats epoch milliseconds as Home Assistant does (`2016-11-26T01:37:24.265390+00:00`); the one formatter every package uses. */
export { formatTimestamp } from '@homecore/core-traits';
export { createUlidGenerator } from './ulid.js';
