export { ManualClock } from './clock.js';
export { ActionRecorder, canonicalJson, describeAction, type Action, type RecorderOptions } from './recorder.js';
export { compareActions, formatActionDiff, type ActionDifference } from './compare.js';
export { createTestHome, type StubbedService, type TestHome, type TestHomeOptions } from './home.js';
