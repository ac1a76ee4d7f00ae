// Built by packages/plugin-example (pnpm build) from src/temperature-alert.ts: a self-contained copy, so this folder runs anywhere. Do not edit.

// ../manifest/dist/reserved.js
var RESERVED_EVENT_TYPE_NAMES = Object.freeze([
  "state_changed",
  "state_reported",
  "call_service",
  "service_registered",
  "service_removed",
  "time_changed",
  "homeassistant_start",
  "homeassistant_started",
  "homeassistant_stop",
  "homeassistant_final_write",
  "homeassistant_close",
  "component_loaded",
  "core_config_updated",
  "entity_registry_updated",
  "device_registry_updated",
  "area_registry_updated",
  "floor_registry_updated",
  "label_registry_updated",
  "category_registry_updated",
  "config_entry_discovered",
  "logging_changed",
  "user_added",
  "user_updated",
  "user_removed",
  "themes_updated",
  "panels_updated"
]);
new Set(RESERVED_EVENT_TYPE_NAMES);

// ../errors/dist/index.js
var ErrorCode = {
  CONFIG_ENTRY_ERROR: "HC_ERR_CONFIG_ENTRY_ERROR"};
var HomecoreError = class _HomecoreError extends Error {
  /** The stable code, for programs and docs (`docs/errors.md`). */
  code;
  /** The plugin the error concerns, if any. */
  plugin;
  /** The hook or host call that was running, if any. */
  hook;
  /** Structured facts for programs. */
  details;
  constructor(code, message, options = {}) {
    super(prefix(options) + message, options.cause === void 0 ? void 0 : { cause: options.cause });
    this.name = "HomecoreError";
    this.code = code;
    this.plugin = options.plugin;
    this.hook = options.hook;
    this.details = options.details;
  }
  /**
   * A plain object for logs and `--json` output. An error thrown by plugin code comes along as
   * `cause` (name, message, stack) and `location` (`file:line:column` where it was thrown).
   */
  toJSON() {
    const out = { code: this.code, message: this.message };
    if (this.plugin !== void 0) out.plugin = this.plugin;
    if (this.hook !== void 0) out.hook = this.hook;
    if (this.details !== void 0) out.details = this.details;
    const location = errorLocation(this);
    if (location !== void 0) out.location = location;
    if (this.cause instanceof _HomecoreError) out.cause = this.cause.toJSON();
    else if (this.cause instanceof Error) out.cause = { name: this.cause.name, message: this.cause.message, ...this.cause.stack !== void 0 ? { stack: this.cause.stack } : {} };
    return out;
  }
};
function prefix({ plugin, hook }) {
  if (plugin === void 0 && hook === void 0) return "";
  const parts = [];
  if (plugin !== void 0) parts.push(`plugin ${plugin}`);
  if (hook !== void 0) parts.push(`hook ${hook}`);
  return `[${parts.join(", ")}] `;
}
var FRAME = /^\s*at (?:.*? \()?((?:file:\/\/|\/|[A-Za-z]:\\|wasm:\/\/)[^)]*?):(\d+):(\d+)\)?$/;
function errorLocation(error) {
  let inner = error;
  for (let depth = 0; depth < 8 && inner instanceof HomecoreError; depth++) {
    if (typeof inner.details?.location === "string") return inner.details.location;
    if (inner.cause === void 0) break;
    inner = inner.cause;
  }
  if (!(inner instanceof Error) || inner instanceof HomecoreError || typeof inner.stack !== "string") return void 0;
  const frames = [];
  for (const text of inner.stack.split("\n")) {
    const match = FRAME.exec(text);
    if (match === null) continue;
    const raw = match[1];
    const entry = /\?v=\d+-\d+$/.test(raw);
    let file = raw.replace(/\?v=\d+-\d+$/, "");
    if (file.startsWith("file://")) file = filePath(file);
    frames.push({ file, line: match[2], column: match[3], entry });
  }
  const pick = frames.find((f) => f.entry) ?? frames.find((f) => !f.file.includes("/node_modules/")) ?? frames[0];
  return pick === void 0 ? void 0 : `${pick.file}:${pick.line}:${pick.column}`;
}
function filePath(url) {
  try {
    return decodeURIComponent(new URL(url).pathname);
  } catch {
    return url;
  }
}
new TextEncoder();
new Set(RESERVED_EVENT_TYPE_NAMES);
function definePlugin(plugin) {
  return plugin;
}
var ConfigEntryError = class extends HomecoreError {
  constructor(message) {
    super(ErrorCode.CONFIG_ENTRY_ERROR, message);
    this.name = "ConfigEntryError";
  }
};

// src/settings.ts
function settingsOf(entry) {
  return { ...entry.data, ...entry.options };
}
function requireString(settings, key, plugin) {
  const value = settings[key];
  if (typeof value !== "string" || value === "") {
    throw new ConfigEntryError(`${plugin}: set "${key}" in the config entry data to an entity id string`);
  }
  return value;
}
function numberOr(settings, key, fallback, plugin) {
  const value = settings[key];
  if (value === void 0) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new ConfigEntryError(`${plugin}: "${key}" must be a finite number, got ${JSON.stringify(value)}`);
  }
  return value;
}
var NUMERIC_STATE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
function parseNumericState(state) {
  const trimmed = state.replace(/^[ \t\n\r]+|[ \t\n\r]+$/g, "");
  if (!NUMERIC_STATE.test(trimmed)) return void 0;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : void 0;
}

// src/temperature-alert.ts
var DOMAIN = "temperature_alert";
function readSettings(context) {
  const settings = settingsOf(context.configEntry);
  const high = numberOr(settings, "high", 25, DOMAIN);
  const low = numberOr(settings, "low", 20, DOMAIN);
  if (low > high) throw new ConfigEntryError(`${DOMAIN}: "low" (${low}) must not be above "high" (${high})`);
  return { sensor: requireString(settings, "sensor", DOMAIN), alert: requireString(settings, "alert", DOMAIN), high, low };
}
function temperatureAlert() {
  let context;
  let settings;
  return definePlugin({
    setup(ctx) {
      settings = readSettings(ctx);
      context = ctx;
      ctx.subscribe({ entities: [settings.sensor] });
      ctx.logger.info(`watching ${settings.sensor}: on above ${settings.high}, off below ${settings.low}`);
    },
    onStateChanged(event) {
      if (context === void 0 || settings === void 0 || event.data.entity_id !== settings.sensor) return;
      const next = event.data.new_state;
      if (next === null) return;
      const temperature = parseNumericState(next.state);
      if (temperature === void 0) return;
      if (temperature > settings.high) {
        context.setState(settings.alert, "on", { temperature, threshold: settings.high });
      } else if (temperature < settings.low) {
        context.setState(settings.alert, "off", { temperature, threshold: settings.low });
      }
    }
  });
}

export { temperatureAlert as default };
