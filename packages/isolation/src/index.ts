export { startIsolated, type IsolatedLevel, type IsolatedOptions } from './host.js';
export { permissionModelFlag } from './link.js';
export type { GuestLoader } from './guest.js';
export { FrameDecoder, FrameError, encodeFrame } from './framing.js';
