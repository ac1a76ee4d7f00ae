// The example folder's entry: the temperatureAlert plugin as a factory (the runtime calls it once per load).
export { temperatureAlert as default } from '../temperature-alert.js';
