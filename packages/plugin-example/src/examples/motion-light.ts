// The example folder's entry: the motionLight plugin as a factory (the runtime calls it once per load).
export { motionLight as default } from '../motion-light.js';
