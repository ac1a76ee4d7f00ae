// The native motion_light plugin from @homecore/plugin-example; the runtime calls the default export (a factory) once per load.
export { motionLight as default } from '@homecore/plugin-example';
