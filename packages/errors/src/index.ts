export { ErrorCode, type ErrorCodeValue } from './codes.js';
export { HomecoreError, isHomecoreError, toHomecoreError, type ErrorOptions } from './error.js';
