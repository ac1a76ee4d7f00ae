// The Home Assistant API (@homecore/api), two measures:
// 1. Round trip through the API: a state change POSTed to /api/states/<id> until the write a native
//    plugin makes in answer reaches a WebSocket client subscribed to state_changed (p50/p99), against
//    the same change made in process (core.setState until the core carries the plugin's write). The
//    ratio is the API's cost: HTTP request, token check, JSON both ways, the WebSocket frame.
// 2. Fan-out: 100 WebSocket clients (in 2 worker threads, so the hub keeps its own) subscribed to
//    every state_changed while 1,000 changes/s flow for 3 s (1 s with --quick). Latency per delivery
//    = receipt time - the write's *scheduled* time (no coordinated omission); nothing lost means every
//    client received every change, in order.
// This package is not a dependency of the bench workspace package: it is loaded from its build.
import { setImmediate } from 'node:timers';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { summarise } from '../lib/measure.mjs';

const { fetch } = globalThis;

const { WebSocket } = await import('ws');
const now = process.hrtime.bigint;
const CLIENTS = 100;
const WORKERS = 2; // client threads, 50 clients each
const RATE = 1000;
// How a fan-out change's new state starts in an event message (the core writes entity_id, then state).
const MARK = '"new_state":{"entity_id":"sensor.fanout","state":"';

if (isMainThread) await main();
else await clients(workerData);

async function main() {
  const { childArgs, emit, measure } = await import('../lib/report.mjs');
  const { createHomecore } = await import('@homecore/runtime-native');
  const { MemoryStore } = await import('@homecore/registry');
  const { createApiServer, TokenStore } = await import('@homecore/api');
  const { quick } = childArgs();
  const ROUND_TRIPS = quick ? 300 : 2000;
  const SECONDS = quick ? 1 : 3;

  // The round trips write faster than a plugin's default 500 writes/s: lift the host cap for the bench.
  const host = createHomecore({ limits: { writesPerSecond: 1_000_000 } });
  const { core, registry } = host;
  // Mirrors input_number.bench to sensor.bench_echo: the plugin's write is what the client waits for.
  await registry.load(
    {
      domain: 'bench_echo',
      name: 'Bench echo',
      version: '1.0.0',
      iot_class: 'calculated',
      runtime: 'native',
      permissions: ['state:read:input_number.bench', 'state:write:sensor.bench_echo'],
      subscriptions: { entities: ['input_number.bench'] },
    },
    (() => {
      let ctx;
      return {
        setup(context) {
          ctx = context;
        },
        onStateChanged(event) {
          if (event.data.new_state) ctx.setState('sensor.bench_echo', event.data.new_state.state);
        },
      };
    })(),
  );
  const tokens = new TokenStore(new MemoryStore());
  const { token } = await tokens.create({ name: 'bench' });
  const api = createApiServer({ core, registry, tokens, port: 0, maxSubscriptions: 10 });
  const { port } = await api.listen();
  const base = `http://127.0.0.1:${port}`;
  const wsUrl = `ws://127.0.0.1:${port}/api/websocket`;

  // ---------------------------------------------------------------- 1. round trip
  const subscriber = await connect(wsUrl, token);
  subscriber.send(JSON.stringify({ id: 1, type: 'subscribe_events', event_type: 'state_changed' }));
  let waiting = null; // { value, resolve }
  subscriber.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    if (msg.type !== 'event' || waiting === null) return;
    const s = msg.event.data.new_state;
    if (msg.event.data.entity_id === 'sensor.bench_echo' && s && s.state === waiting.value) {
      const w = waiting;
      waiting = null;
      w.resolve();
    }
  });
  const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
  let seq = 0;
  async function viaApi() {
    const value = `a${seq++}`;
    const echoed = withTimeout(new Promise((resolve) => (waiting = { value, resolve })), `the API echo of ${value}`);
    const t0 = now();
    const res = await fetch(`${base}/api/states/input_number.bench`, { method: 'POST', headers, body: JSON.stringify({ state: value }) });
    await res.arrayBuffer();
    if (res.status !== 200 && res.status !== 201) throw new Error(`POST answered ${res.status}`);
    await echoed;
    return Number(now() - t0);
  }
  let inProcessWaiting = null;
  core.listen((event) => {
    if (inProcessWaiting !== null && event.event_type === 'state_changed' && event.data.entity_id === 'sensor.bench_echo' && event.data.new_state?.state === inProcessWaiting.value) {
      const w = inProcessWaiting;
      inProcessWaiting = null;
      w.resolve();
    }
  });
  async function inProcess() {
    const value = `p${seq++}`;
    const echoed = withTimeout(new Promise((resolve) => (inProcessWaiting = { value, resolve })), `the in-process echo of ${value}`);
    const t0 = now();
    core.setState('input_number.bench', value, {}, { context: core.createContext({ userId: 'bench' }) });
    await echoed;
    return Number(now() - t0);
  }
  // Warm up both, then interleave them so both see the same machine.
  for (let i = 0; i < 200; i++) {
    await viaApi();
    await inProcess();
  }
  const apiSamples = [];
  const localSamples = [];
  for (let i = 0; i < ROUND_TRIPS; i++) {
    apiSamples.push(await viaApi());
    localSamples.push(await inProcess());
  }
  subscriber.close();
  const apiRt = summarise(apiSamples);
  const localRt = summarise(localSamples);

  // ---------------------------------------------------------------- 2. fan-out
  const api2 = createApiServer({ core, registry, tokens, port: 0 });
  const { port: port2 } = await api2.listen();
  const total = Math.round(SECONDS * RATE);
  const coalesced = await fanOut(true);
  const plain = await fanOut(false);
  await api.close();
  await api2.close();
  await host.close();

  async function fanOut(coalesce) {
    const schedule = new BigInt64Array(new SharedArrayBuffer(8 * (total + 1)));
    const workers = Array.from(
      { length: WORKERS },
      () =>
        new Worker(new URL(import.meta.url), {
          workerData: { url: `ws://127.0.0.1:${port2}/api/websocket`, token, clients: CLIENTS / WORKERS, total, schedule, coalesce },
        }),
    );
    const fromWorkers = (type) =>
      Promise.all(
        workers.map(
          (worker) =>
            new Promise((resolve, reject) => {
              const onMessage = (m) => {
                if (m.type === type) {
                  worker.off('message', onMessage);
                  resolve(m);
                }
              };
              worker.on('message', onMessage);
              worker.once('error', reject);
            }),
        ),
      );
    await fromWorkers('ready');
    const interval = 1e9 / RATE;
    const start = now();
    let issued = 0;
    while (issued < total) {
      const due = Math.min(total, Math.floor(Number(now() - start) / interval) + 1);
      while (issued < due) {
        schedule[issued] = start + BigInt(Math.round(issued * interval));
        // A fresh context per write, as independent sensor updates have.
        core.setState('sensor.fanout', String(issued), { seq: issued }, { context: core.createContext({ userId: 'bench' }) });
        issued++;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    const wall = Number(now() - start) / 1e9;
    const done = fromWorkers('report');
    for (const worker of workers) worker.postMessage({ type: 'done' });
    const reports = await done;
    await Promise.all(workers.map((worker) => worker.terminate()));
    const all = Float64Array.from(reports.flatMap((r) => Array.from(r.latencies)));
    const summary = summarise(all);
    let max = 0;
    for (const v of all) if (v > max) max = v;
    return {
      wall,
      received: reports.reduce((n, r) => n + r.received, 0),
      lost: reports.reduce((n, r) => n + r.lost, 0),
      outOfOrder: reports.reduce((n, r) => n + r.outOfOrder, 0),
      latency: { p50: summary.p50, p99: summary.p99, max },
    };
  }

  const ms = (ns) => ns / 1e6;
  const fan = coalesced.latency;
  const report = coalesced;
  emit({
    measures: [
      measure({
        id: 'api.rest_to_ws.p50',
        name: 'REST POST of a state until the plugin\'s answer reaches a WebSocket subscriber, p50',
        value: ms(apiRt.p50),
        unit: 'ms',
        p50: ms(apiRt.p50),
        p99: ms(apiRt.p99),
        reference: { name: 'the same change in process (core.setState until the plugin wrote)', value: ms(localRt.p50), unit: 'ms' },
        note: `p99 ${ms(apiRt.p99).toFixed(3)} ms; in process p50 ${(localRt.p50 / 1000).toFixed(1)} µs, p99 ${(localRt.p99 / 1000).toFixed(1)} µs`,
      }),
      measure({
        id: 'api.fanout.p99',
        name: `${CLIENTS} WebSocket clients subscribed to state_changed, ${RATE.toLocaleString('en')} changes/s: delivery p99`,
        value: ms(fan.p99),
        unit: 'ms',
        p50: ms(fan.p50),
        p99: ms(fan.p99),
        ops: total / coalesced.wall,
        note: `clients ask for coalesce_messages, as Home Assistant's frontend does; p50 ${ms(fan.p50).toFixed(3)} ms; ${report.received} deliveries; achieved ${(total / coalesced.wall).toFixed(0)} changes/s`,
      }),
      measure({
        id: 'api.fanout_uncoalesced.p99',
        name: `the same, clients without coalesce_messages (one frame per message): delivery p99`,
        value: ms(plain.latency.p99),
        unit: 'ms',
        p50: ms(plain.latency.p50),
        p99: ms(plain.latency.p99),
        ops: total / plain.wall,
        note: `p50 ${ms(plain.latency.p50).toFixed(3)} ms; achieved ${(total / plain.wall).toFixed(0)} changes/s; lost ${plain.lost}, out of order ${plain.outOfOrder}`,
      }),
      measure({
        id: 'api.fanout.lost',
        name: 'WebSocket fan-out: changes lost or out of order',
        value: coalesced.lost + coalesced.outOfOrder + plain.lost + plain.outOfOrder,
        unit: 'events',
        target: { max: 0, unit: 'events', text: '0' },
      }),
    ],
    notes: [
      `round trip over ${ROUND_TRIPS} interleaved pairs: API p50 ${ms(apiRt.p50).toFixed(3)} ms / p99 ${ms(apiRt.p99).toFixed(3)} ms, in process p50 ${ms(localRt.p50).toFixed(4)} ms / p99 ${ms(localRt.p99).toFixed(4)} ms`,
      ...[coalesced, plain].map(
        (r, i) =>
          `fan-out${i === 0 ? ' (coalesced)' : ' (one frame per message)'}: ${total} changes in ${r.wall.toFixed(2)} s (${(total / r.wall).toFixed(0)}/s) to ${CLIENTS} clients in ${WORKERS} worker threads; ${r.received} of ${total * CLIENTS} deliveries, lost ${r.lost}, out of order ${r.outOfOrder}; latency p50 ${ms(r.latency.p50).toFixed(3)} ms, p99 ${ms(r.latency.p99).toFixed(3)} ms, max ${ms(r.latency.max).toFixed(2)} ms`,
      ),
    ],
  });
}

function withTimeout(promise, what, ms = 10_000) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms))),
  ]);
}

function connect(url, token) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('error', reject);
    const onMessage = (data) => {
      const msg = JSON.parse(data.toString());
      if (msg.type === 'auth_required') ws.send(JSON.stringify({ type: 'auth', access_token: token }));
      else if (msg.type === 'auth_ok') {
        ws.off('message', onMessage);
        resolve(ws);
      } else reject(new Error(`auth failed: ${data}`));
    };
    ws.on('message', onMessage);
  });
}

async function clients({ url, token, clients: n, total, schedule, coalesce }) {
  const latencies = new Float64Array(total * n);
  let received = 0;
  let outOfOrder = 0;
  const next = new Int32Array(n);
  const sockets = [];
  for (let c = 0; c < n; c++) {
    const ws = await connect(url, token);
    await new Promise((resolve) => {
      const onSub = (data) => {
        const parsed = JSON.parse(data.toString());
        if ((Array.isArray(parsed) ? parsed : [parsed]).some((m) => m.id === 2 && m.success === true)) {
          ws.off('message', onSub);
          resolve();
        }
      };
      ws.on('message', onSub);
      if (coalesce) ws.send(JSON.stringify({ id: 1, type: 'supported_features', features: { coalesce_messages: 1 } }));
      ws.send(JSON.stringify({ id: 2, type: 'subscribe_events', event_type: 'state_changed' }));
    });
    // The load generator reads only what it needs (each new_state's state) instead of parsing every
    // message whole: 100 clients in one thread would otherwise measure JSON.parse, not the hub.
    ws.on('message', (data) => {
      const at = now();
      const text = data.toString();
      for (let i = text.indexOf(MARK); i >= 0; i = text.indexOf(MARK, i + MARK.length)) {
        const from = i + MARK.length;
        const seq = Number(text.slice(from, text.indexOf('"', from)));
        if (seq !== next[c]) outOfOrder++;
        next[c] = seq + 1;
        latencies[received++] = Number(at - schedule[seq]);
      }
    });
    sockets.push(ws);
  }
  parentPort.postMessage({ type: 'ready' });
  await new Promise((resolve) => parentPort.once('message', resolve));
  // Every change has been written; wait (at most 10 s) for the last deliveries.
  const deadline = Date.now() + 10_000;
  while (received < total * n && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  for (const ws of sockets) ws.close();
  const kept = latencies.slice(0, received);
  parentPort.postMessage({ type: 'report', received, lost: total * n - received, outOfOrder, latencies: kept }, [kept.buffer]);
}
