export { ErrorCode, type ErrorCodeValue } from './codes.js';
export { HomecoreError, errorLocation, isHomecoreError, toHomecoreError, type ErrorOptions } from './error.js';
