// The native virtual_light plugin from @homecore/plugin-example; the runtime calls the default export (a factory) once per load.
export { virtualLight as default } from '@homecore/plugin-example';
