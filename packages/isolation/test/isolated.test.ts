import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, HomecoreError, type BusEvent, type EntityState, type PluginContext, type PluginManifest } from '@homecore/core-traits';
import { startIsolated, type IsolatedLevel } from '@homecore/isolation';

const guest = new URL('./fixtures/guest.mjs', import.meta.url);
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
// A process guest reads only what it is allowed: the fixtures and the built guest side.
const reads = { baseDir: fixture(''), allowRead: [fileURLToPath(new URL('../dist/', import.meta.url))] };

const manifest = (domain: string, permissions: string[]): PluginManifest =>
  ({ domain, name: domain, version: '1.0.0', runtime: 'native', entry: 'index.mjs', permissions }) as PluginManifest;

/** A context that records what the plugin did, and a bus to feed the mirror. */
function fakeHost(data: Record<string, unknown> = {}) {
  const actions: string[] = [];
  const listeners = new Set<(event: BusEvent) => void>();
  const states = new Map<string, EntityState>();
  const state = (entity_id: string, value: string): EntityState =>
    ({ entity_id, state: value, attributes: {}, last_changed: '', last_reported: '', last_updated: '', context: { id: 'c', parent_id: null, user_id: null } }) as EntityState;
  const context = {
    pluginId: 'p',
    configEntry: { entry_id: 'e1', domain: 'p', title: 'p', data, options: {} },
    logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    signal: new AbortController().signal,
    now: () => 1_700_000_000_000,
    getState: (id: string) => states.get(id),
    getStates: () => [...states.values()],
    setState: (id: string, value: string, attributes?: Record<string, unknown>) => {
      if (!id.startsWith('sensor.')) throw new HomecoreError(ErrorCode.PERMISSION_DENIED, `may not write ${id}`);
      actions.push(`set ${id}=${value} ${JSON.stringify(attributes ?? {})}`);
      return state(id, value);
    },
  } as unknown as PluginContext;
  const change = (id: string, value: string) => {
    const s = state(id, value);
    states.set(id, s);
    const event = { event_type: 'state_changed', data: { entity_id: id, old_state: null, new_state: s }, origin: 'LOCAL', time_fired: '', context: s.context } as unknown as BusEvent;
    for (const l of listeners) l(event);
    return event;
  };
  return { actions, context, change, listen: (l: (event: BusEvent) => void) => (listeners.add(l), () => listeners.delete(l)) };
}

const delivered = (event: BusEvent) => ({ event, json: () => JSON.stringify(event), bytes: () => new TextEncoder().encode(JSON.stringify(event)) });

describe.each(['worker', 'process'] as IsolatedLevel[])('startIsolated at %s level', (level) => {
  it('forwards the context: reads come from the mirror, writes reach the host in order, a denial throws in the guest', async () => {
    const host = fakeHost();
    const instance = await startIsolated({
      level,
      guest,
      code: fixture('echo.mjs'),
      manifest: manifest('echo', ['state:read:sensor.t', 'state:write:sensor.*']),
      listen: host.listen,
      memoryMb: 64,
      ...reads,
    });
    try {
      expect(instance.hooks.stateChanged).toBe(true);
      await instance.setup(host.context);
      await instance.handleEvent(delivered(host.change('sensor.t', '21')));
      await instance.handleEvent(delivered(host.change('sensor.t', '22')));
      // The guest's own permission check threw before anything reached the host for light.kitchen.
      expect(host.actions).toEqual([
        'set sensor.echo=21 {"mirror":"21"}',
        'set sensor.echo_denied=HC_ERR_PERMISSION_DENIED {}',
        'set sensor.echo=22 {"mirror":"22"}',
        'set sensor.echo_denied=HC_ERR_PERMISSION_DENIED {}',
      ]);
      expect(instance.stats()).toMatchObject({ crashes: 0, restarts: 0, heapLimitBytes: 64 * 1024 * 1024 });
    } finally {
      await instance.dispose();
    }
  });

  it('refuses a module that does not load, with the guest loader\'s error', async () => {
    const host = fakeHost();
    await expect(startIsolated({ level, guest, code: fixture('missing.mjs'), manifest: manifest('gone', []), listen: host.listen, memoryMb: 32, ...reads })).rejects.toThrow(/missing\.mjs|Cannot find module/);
  });
});

describe('a guest that breaks the protocol', () => {
  // Property: whatever a hostile guest sends, the host neither throws nor applies it; the plugin is
  // stopped (IPC_INVALID / crash) or the bytes are harmless, and the host keeps serving others.
  it.each(['worker', 'process'] as IsolatedLevel[])('at %s level never crashes the host', async (level) => {
    const value = fc.oneof(
      fc.jsonValue(),
      fc.record({ t: fc.constantFrom('done', 'error', 'fx', 'ready', 'fail', 'x'), id: fc.oneof(fc.integer(), fc.string()), ops: fc.array(fc.array(fc.jsonValue(), { maxLength: 6 }), { maxLength: 4 }) }),
    );
    const frame = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.jsonValue().map((v) => {
        const json = Buffer.from(JSON.stringify(v));
        const header = Buffer.alloc(8);
        header.writeUInt32BE(json.length, 0);
        return new Uint8Array(Buffer.concat([header, json]));
      }),
      fc.constant(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(value, { minLength: 1, maxLength: 4 }), frame, async (values, bytes) => {
        const host = fakeHost({ values, bytes: Buffer.from(bytes).toString('base64') });
        const instance = await startIsolated({ level, guest, code: fixture('garbage.mjs'), manifest: manifest('garbage', ['state:write:sensor.*']), listen: host.listen, memoryMb: 32, maxFrameBytes: 1024, ...reads });
        try {
          await instance.setup(host.context).catch((error: unknown) => {
            expect((error as HomecoreError).code).toMatch(/^HC_ERR_(IPC_INVALID|PLUGIN_CRASHED)$/);
          });
          // Nothing the garbage said was applied: the only possible action is the plugin's own write.
          expect(host.actions.every((a) => a.startsWith('set sensor.garbage_sent=yes'))).toBe(true);
        } finally {
          await instance.dispose();
        }
      }),
      { numRuns: level === 'worker' ? 25 : 10 },
    );
  });
});
