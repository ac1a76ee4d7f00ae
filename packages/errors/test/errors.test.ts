import { describe, expect, it } from 'vitest';
import { ErrorCode, HomecoreError, isHomecoreError, toHomecoreError } from '@homecore/errors';

describe('HomecoreError', () => {
  it('carries code, plugin and hook, and names them in the message', () => {
    const err = new HomecoreError(ErrorCode.SETUP_TIMEOUT, 'setup did not finish in 50 ms', {
      plugin: 'motion_light',
      hook: 'setup',
    });
    expect(err.code).toBe('HC_ERR_SETUP_TIMEOUT');
    expect(err.message).toBe('[plugin motion_light, hook setup] setup did not finish in 50 ms');
    expect(err.toJSON()).toEqual({
      code: 'HC_ERR_SETUP_TIMEOUT',
      message: err.message,
      plugin: 'motion_light',
      hook: 'setup',
    });
    expect(isHomecoreError(err, ErrorCode.SETUP_TIMEOUT)).toBe(true);
    expect(isHomecoreError(err, ErrorCode.SETUP_FAILED)).toBe(false);
    expect(isHomecoreError(new Error('x'))).toBe(false);
  });

  it('wraps foreign throws and keeps the cause; passes coded errors through', () => {
    const wrapped = toHomecoreError('boom', ErrorCode.HANDLER_FAILED, { plugin: 'p' });
    expect(wrapped.code).toBe('HC_ERR_HANDLER_FAILED');
    expect(wrapped.message).toBe('[plugin p] boom');
    expect(wrapped.cause).toBe('boom');
    const coded = new HomecoreError(ErrorCode.INTERNAL, 'x');
    expect(toHomecoreError(coded, ErrorCode.HANDLER_FAILED)).toBe(coded);
  });

  it('has unique codes that all start with HC_ERR_', () => {
    const values = Object.values(ErrorCode);
    expect(new Set(values).size).toBe(values.length);
    for (const v of values) expect(v).toMatch(/^HC_ERR_[A-Z0-9_]+$/);
  });
});

describe('isHomecoreError', () => {
  it('recognises a coded error from another copy of the package by its code', () => {
    const foreign = Object.assign(new Error('[plugin x] hub offline'), { code: 'HC_ERR_CONFIG_ENTRY_NOT_READY', plugin: 'x' });
    expect(isHomecoreError(foreign)).toBe(true);
    expect(isHomecoreError(foreign, ErrorCode.CONFIG_ENTRY_NOT_READY)).toBe(true);
    expect(isHomecoreError(foreign, ErrorCode.SETUP_FAILED)).toBe(false);
    expect(toHomecoreError(foreign, ErrorCode.SETUP_FAILED)).toBe(foreign);
  });

  it('does not mistake other errors with codes', () => {
    expect(isHomecoreError(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBe(false);
    expect(isHomecoreError({ code: 'HC_ERR_INTERNAL', message: 'not an Error' })).toBe(false);
    expect(isHomecoreError(null)).toBe(false);
  });
});
