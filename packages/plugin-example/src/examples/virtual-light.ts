// The example folder's entry: the virtualLight plugin as a factory (the runtime calls it once per load).
export { virtualLight as default } from '../virtual-light.js';
