/** Home Assistant's WebSocket and REST API over a HOMECORE core and registry. */
export { createApiServer, WEBSOCKET_PATH, type ApiServer } from './server.js';
export { API_LIMIT_DEFAULTS, type PluginListing } from './state.js';
export { WS_COMMANDS } from './connection.js';
export { HA_API_VERSION, WsErrorCode, type WsErrorCodeValue } from './protocol.js';
export { compressState, entitiesUpdate, stateDiff, toSeconds, type CompressedDiff, type CompressedState, type EntitiesUpdate } from './compressed.js';
export {
  TOKENS_FILE,
  TokenStore,
  createToken,
  fileTokenStore,
  hashToken,
  type AccessTokenInfo,
  type AccessTokenRecord,
  type CreatedToken,
  type TokenStoreOptions,
  type TokenUser,
  type TokenVerifier,
} from './tokens.js';
export type { AuthRateLimit } from './rate-limit.js';
export type { ServiceDescription } from './catalog.js';
export type { ApiAddress, ApiLogEntry, ApiServerOptions, HaConfigOverrides } from './types.js';
