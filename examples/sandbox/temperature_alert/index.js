// The native temperature_alert plugin from @homecore/plugin-example; the runtime calls the default export (a factory) once per load.
export { temperatureAlert as default } from '@homecore/plugin-example';
