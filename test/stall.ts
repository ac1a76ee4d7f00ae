// Event-loop responsiveness while a hostile case runs. Guest code and the host work it triggers
// run on the host's event loop (no preemption, docs/sandbox.md), so every budget must also bound
// how long the loop is blocked: a 5 ms interval timer records the largest gap between its ticks,
// measured in this process, from start() to stop().
//
// A gap is the smaller of the wall-clock time between two ticks (performance.now()) and the CPU
// time this process used meanwhile (process.cpuUsage(), all its threads): the wall clock alone also
// counts the time the machine ran other processes (vitest runs files in parallel on few cores, and
// a shared CI box runs other jobs), which is not a stall the sandbox caused; the CPU time of all
// threads can only count more of this process's own work (GC, background compiles), never less.
// Both figures are kept: `wallMs` is the wall-clock gap of the worst tick.

/** The documented bound: no hostile case may block the host's event loop for longer. */
export const STALL_BOUND_MS = 100;

/** A running measurement. */
export interface StallMeter {
  /** Names what runs from now on, so that the largest gap can be attributed to a phase. */
  phase(name: string): void;
  /** Stops the timer; returns the largest gap between ticks (including the last tick to now), in ms. */
  stop(): number;
  /** The wall-clock time between the two ticks of the largest gap, in ms. */
  readonly wallMs: number;
  /** The phases the largest gap started and ended in (`load`, or `load -> rounds`). */
  readonly worstPhase: string;
}

/** Starts measuring the largest gap between ticks of a `intervalMs` timer. */
export function startStallMeter(intervalMs = 5): StallMeter {
  const cpuMs = (): number => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };
  let last = performance.now();
  let lastCpu = cpuMs();
  let max = 0;
  let wallMs = 0;
  let phase = 'start';
  let phaseAtLast = phase;
  let worstPhase = phase;
  const tick = (): void => {
    const now = performance.now();
    const cpu = cpuMs();
    const gap = Math.min(now - last, cpu - lastCpu);
    if (gap > max) {
      max = gap;
      wallMs = now - last;
      worstPhase = phaseAtLast === phase ? phase : `${phaseAtLast} -> ${phase}`;
    }
    last = now;
    lastCpu = cpu;
    phaseAtLast = phase;
  };
  const timer = setInterval(tick, intervalMs);
  let stopped: number | undefined;
  return {
    phase(name: string): void {
      phase = name;
    },
    stop(): number {
      if (stopped !== undefined) return stopped;
      clearInterval(timer);
      tick();
      stopped = max;
      return stopped;
    },
    get worstPhase(): string {
      return worstPhase;
    },
    get wallMs(): number {
      return wallMs;
    },
  };
}

/** Worst gap seen per label (a hostile class), for the summary the test file prints. */
export const worstStalls = new Map<string, { gapMs: number; wallMs: number; where: string }>();
/** Every measured case: label, case, gap (and its wall-clock time) and phase. */
export const allStalls: { label: string; where: string; gapMs: number; wallMs: number; phase: string }[] = [];

/**
 * Runs `scenario` under a stall meter and returns its result with the largest gap. The caller
 * asserts the bound (so that a failure names the case); the gap is also kept in `worstStalls`.
 */
export async function measureStall<T>(
  label: string,
  where: string,
  scenario: (phase: (name: string) => void) => Promise<T>,
): Promise<{ result: T; gapMs: number; wallMs: number; phase: string }> {
  // Let pending timers and I/O of the previous case run first, so their lateness is not counted here.
  await new Promise((resolve) => setTimeout(resolve, 0));
  const meter = startStallMeter();
  let result: T;
  try {
    result = await scenario((name) => meter.phase(name));
  } finally {
    const gapMs = meter.stop();
    const worst = worstStalls.get(label);
    if (worst === undefined || gapMs > worst.gapMs) worstStalls.set(label, { gapMs, wallMs: meter.wallMs, where: `${where}, in ${meter.worstPhase}` });
    allStalls.push({ label, where, gapMs, wallMs: meter.wallMs, phase: meter.worstPhase });
  }
  return { result, gapMs: meter.stop(), wallMs: meter.wallMs, phase: meter.worstPhase };
}

/**
 * Lets the event loop turn (timers, I/O) before the next step of a scenario, the way inputs from
 * outside arrive in their own macrotasks: without it a scenario of awaited promises never yields
 * and the meter would measure the whole scenario as one stall.
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Resolves or rejects like `promise`, or rejects naming `what` when it takes longer than `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms (hung)`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
