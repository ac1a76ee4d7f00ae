import { describe, expect, it } from 'vitest';
import { ErrorCode, HomecoreError, errorLocation } from '@homecore/errors';

/** An error whose stack is exactly `frames`, as V8 prints them. */
function thrownAt(...frames: string[]): Error {
  const error = new Error('boom');
  error.stack = ['Error: boom', ...frames.map((f) => `    at ${f}`)].join('\n');
  return error;
}

describe('errors thrown by plugin code keep where they were thrown', () => {
  it('toJSON carries the cause with its stack, and the location', () => {
    const cause = thrownAt('helper (file:///plugins/thrower/index.js?v=1733-4:8:9)', 'Object.onStateChanged (file:///plugins/thrower/index.js?v=1733-4:4:5)', 'process.processTicksAndRejections (node:internal/process/task_queues:95:5)');
    const error = new HomecoreError(ErrorCode.HANDLER_FAILED, 'onStateChanged threw boom', { plugin: 'thrower', hook: 'onStateChanged', cause });
    expect(error.toJSON()).toEqual({
      code: 'HC_ERR_HANDLER_FAILED',
      message: '[plugin thrower, hook onStateChanged] onStateChanged threw boom',
      plugin: 'thrower',
      hook: 'onStateChanged',
      location: '/plugins/thrower/index.js:8:9',
      cause: { name: 'Error', message: 'boom', stack: cause.stack },
    });
  });

  it("prefers a frame of the plugin's entry, then one outside node_modules", () => {
    const inLibrary = thrownAt('parse (/plugins/p/node_modules/lib/index.js:3:1)', 'setup (file:///plugins/p/index.js?v=1-2:10:3)');
    expect(errorLocation(new HomecoreError(ErrorCode.SETUP_FAILED, 'x', { cause: inLibrary }))).toBe('/plugins/p/index.js:10:3');
    const bundled = thrownAt('parse (/plugins/p/node_modules/lib/index.js:3:1)', 'helper (/plugins/p/lib/helper.js:7:2)', 'run (/plugins/p/node_modules/x.js:1:1)');
    expect(errorLocation(new HomecoreError(ErrorCode.SETUP_FAILED, 'x', { cause: bundled }))).toBe('/plugins/p/lib/helper.js:7:2');
    expect(errorLocation(thrownAt('f (/a/node_modules/b.js:1:2)'))).toBe('/a/node_modules/b.js:1:2');
  });

  it('follows a chain of HomecoreErrors, and takes details.location where the stack cannot tell', () => {
    const inner = new HomecoreError(ErrorCode.INTERNAL, 'inner', { cause: thrownAt('anonymous (/p/index.js:2:3)') });
    expect(errorLocation(new HomecoreError(ErrorCode.HANDLER_FAILED, 'outer', { cause: inner }))).toBe('/p/index.js:2:3');
    const syntax = new HomecoreError(ErrorCode.ENTRY_IMPORT_FAILED, 'syntax', { details: { location: '/p/index.js:4:1' }, cause: new SyntaxError('x') });
    expect(errorLocation(syntax)).toBe('/p/index.js:4:1');
    expect(syntax.toJSON()).toMatchObject({ location: '/p/index.js:4:1', cause: { name: 'SyntaxError', message: 'x' } });
  });

  it('gives nothing for an error with no file on its stack, or no error at all', () => {
    expect(errorLocation(thrownAt('open (node:internal/fs/promises:639:25)'))).toBeUndefined();
    expect(errorLocation(new HomecoreError(ErrorCode.INTERNAL, 'no cause'))).toBeUndefined();
    expect(errorLocation('a string')).toBeUndefined();
    expect(new HomecoreError(ErrorCode.INTERNAL, 'x', { cause: 'a string' }).toJSON()).not.toHaveProperty('cause');
  });
});
