export { runCli, type CliIo } from './main.js';
export { parseScenario, type ScenarioStep } from './scenario.js';
