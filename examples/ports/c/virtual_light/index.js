// Built by packages/plugin-example (pnpm build) from src/virtual-light.ts: a self-contained copy, so this folder runs anywhere. Do not edit.

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
  SERVICE_INVALID: "HC_ERR_SERVICE_INVALID"};
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

// src/virtual-light.ts
var DOMAIN = "virtual_light";
var LIGHT_ID = /^light\.[a-z0-9_]+$/;
function targets(call) {
  const raw = call.data.entity_id;
  const ids = Array.isArray(raw) ? raw : [raw];
  if (ids.length === 0 || !ids.every((id) => typeof id === "string" && LIGHT_ID.test(id))) {
    throw new HomecoreError(
      ErrorCode.SERVICE_INVALID,
      `${DOMAIN}.${call.service} needs data {"entity_id": "light.<name>"} (or a list of them), got ${JSON.stringify(raw ?? null)}`,
      { plugin: DOMAIN, hook: call.service, details: { data: call.data } }
    );
  }
  return ids;
}
function virtualLight() {
  return definePlugin({
    setup(ctx) {
      for (const [service, state] of [
        ["turn_on", "on"],
        ["turn_off", "off"]
      ]) {
        ctx.registerService(service, (call) => {
          for (const id of targets(call)) ctx.setState(id, state);
        });
      }
    }
  });
}

export { virtualLight as default };
