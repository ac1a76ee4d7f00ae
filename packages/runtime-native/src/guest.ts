// The module an isolated native plugin's worker or child process runs: the in-process runtime,
// served over the isolation channel. Built as one self-contained file (dist/guest.js).
import { serveGuest } from '@homecore/isolation/guest';
import { InProcessRuntime } from './runtime.js';

const runtime = new InProcessRuntime();
serveGuest((code, manifest, { baseDir }) => runtime.load(code, manifest, baseDir === undefined ? {} : { baseDir }));
