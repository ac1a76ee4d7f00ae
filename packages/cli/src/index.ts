export { runCli, type CliIo } from './main.js';
export { parseScenario, type ScenarioStep } from './scenario.js';
export { defaultDataDir, serveUntil, startServe, type ServeHandle, type ServeOptions } from './serve.js';
export { STATUS_FILE, formatStatus, readStatus, type EntryStatus, type PluginStatus, type ServeStatus, type StatusReport } from './status.js';
export { jsonOutput, textOutput, type RunOutput } from './output.js';
export { NEW_LANGUAGES, createProject, domainProblem, formatNewProject, type NewLanguage, type NewProjectOptions, type NewProjectResult } from './new.js';
