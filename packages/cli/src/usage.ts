import { ErrorCode, HomecoreError } from '@homecore/core-traits';

/** The help text of `homecore`. */
export const USAGE = `homecore: run, serve, check and inspect HOMECORE plugins

Usage:
  homecore run <dir> [--scenario <file.jsonl>] [--json] [--trust-key <key>]... [--allow-unsigned]
               [--isolation none|worker|process [--trusted <domain>]...] [--data-dir <dir>]
      Start the reference core, load every plugin folder in <dir> (or the plugin <dir> is, when it
      holds a manifest.json), replay the scenario, print a live log of what each plugin did and a
      summary. Wasm plugins need @homecore/runtime-wasm.
      With a data directory, a plugin asking for more than was accepted there is not loaded.
  homecore serve <dir> [--watch] [--json] [--data-dir <dir>] [--trust-key <key>]... [--allow-unsigned]
               [--isolation none|worker|process [--trusted <domain>]...] [--port <n> [--host <addr>]]
      Run a hub: start the reference core on the real clock, load every plugin folder in <dir>,
      fire time_changed every second, and run until SIGINT or SIGTERM; then unload every plugin
      (dependents first) and exit 0. A second signal exits at once. The data directory keeps the
      grants, the config entries and a status file. With --watch, an edited plugin folder is
      reloaded (a broken edit is refused and the running version kept), a new folder loads and a
      removed one unloads. --port serves Home Assistant's WebSocket API (/api/websocket) and REST
      API (/api/) on 127.0.0.1 unless --host says otherwise (needs @homecore/api).
  homecore dev <plugin-dir | dir> [--scenario <file.jsonl>] [--no-build] [--debounce <ms>] [--json]
               [--trust-key <key>]... [--allow-unsigned] [--isolation none|worker|process [--trusted <domain>]...]
      The edit loop: run the plugin project's build:dev (else build) script, load it (or every plugin
      folder in <dir>), replay the scenario (default: scenario.jsonl of the folder) and watch the
      sources. After each change: rebuild (a failure prints the compiler's output and the running
      version stays), re-pin module_hash (development policy only: never with --trust-key and no
      --allow-unsigned), hot-reload through the load gate, replay against an emptied home, and print
      the actions with the time from the change. Runs until SIGINT or SIGTERM, then exits 0.
  homecore status [--data-dir <dir>] [--json]
      Show what a running "homecore serve" reports: each plugin's state, health, last error and
      counters. Exits 1 when serve is not running or its status is stale.
  homecore token create --name <name> [--data-dir <dir>] [--json]
      Create a long-lived access token for the API of "homecore serve" with that data directory;
      it is printed once and stored only as a hash (homecore.tokens.json).
  homecore validate <dir | manifest.json> [--strict] [--ha-core] [--json]
      Check manifests: every problem with its JSON pointer; exits 1 if any has an error (with
      --strict, also if any has a warning, such as an unknown key). With --ha-core, judge them as
      Home Assistant core integrations (no version; hassfest's core rules).
  homecore list <dir> [--json]
      List the plugin folders in <dir> with their domain, version, runtime and dependencies.
  homecore inspect <file.wasm> [--manifest <manifest.json>] [--trust-key <key>]... [--allow-unsigned] [--json]
      Show a wasm module's imports, exports, ABI version, memory limits and signature, and
      whether it passes the load gate. Exits 1 if it does not.
  homecore sign <file.wasm> --key <private-key.pem> --manifest <manifest.json> [--json]
      Pin and sign the module: writes module_hash, module_signature and publisher_key into the
      manifest (the signature covers the manifest's domain and the module's sha256).
  homecore conformance <reference-dir> <candidate-dir> --scenario <file.jsonl> [--json]
               [--trust-key <key>]... [--allow-unsigned]
      Replay one scenario through two plugin directories (for example native plugins and their
      port to wasm, same domains) on a frozen clock; exits 1 unless they take the same actions.
  homecore keygen <dir> [--json]
      Create a publisher key pair: <dir>/publisher.key.pem (secret) and <dir>/publisher.pub.
  homecore diff <old-plugin-dir> <new-plugin-dir> [--json]
      Compare two versions of a plugin's manifest as an upgrade would be: what the new one asks
      for beyond the old (permissions, subscriptions, services, host imports, raised limits,
      lowered isolation, another publisher key or runtime) first, then what it gives up. Exits 1
      if anything widens.
  homecore accept <plugin-dir> [--data-dir <dir>] [--json]
      Accept the manifest of the plugin in <plugin-dir>: store its grant in the data directory, so
      "homecore run --data-dir" loads that version even where it asks for more than before.
  homecore new [<name>] [--lang ts|as|c|rust|wat] [--dir <folder>] [--tarballs <folder>] [--json]
      Create a plugin project in a new folder (default ./<name>; a non-empty one is refused):
      manifest.json at its root, the source, a build script, a test, a scenario and a README.
      <name> is the plugin's domain. On a terminal it asks for what is missing.

Options:
  --json               JSON lines for programs instead of text for people
  --scenario <file>    JSON lines: {"set": entity, "state", "attributes"}, {"call": "domain.service",
                       "data"}, {"fire": type, "data"}, {"wait": ms}, {"options": domain, "value"};
                       blank lines and lines starting with # are ignored
  --trust-key <key>    a trusted publisher key: "ed25519:<base64>" or a file holding one (repeatable)
  --allow-unsigned     development policy: load unsigned wasm modules with a warning
  --isolation <level>  run every native plugin at least this isolated: none (in process), worker (a
                       worker thread) or process (a child Node process with the permission model)
  --trusted <domain>   a native plugin --isolation leaves as its manifest asks (repeatable)
  --data-dir <dir>     where the host keeps its data: the grants file homecore.grants.json, and
                       for serve the config entries (.storage/core.config_entries) and
                       homecore.status.json (default $HOMECORE_DATA_DIR; without either, run
                       keeps nothing and compares no upgrade, serve and status use .homecore
                       next to the plugins directory)
  --watch              serve: reload plugin folders as they change
  --port <n>           serve: the Home Assistant API's port
  --host <addr>        serve: the address the API listens on (default 127.0.0.1)
  --no-build           dev: reload on changes without running the build script
  --debounce <ms>      dev: quiet time after the last change before rebuilding (default 100)
  --name <name>        token create: what the token is for (unique)
  --lang <language>    new: ts (native TypeScript), as (AssemblyScript), c, rust or wat
  --dir <folder>       new: the folder to create (default ./<name>)
  --tarballs <folder>  new: depend on the homecore-*.tgz files there (pnpm pack) instead of the
                       registry, through file: paths and npm/pnpm overrides
  --key <file>         an Ed25519 private key in PEM, from "homecore keygen"
  --manifest <file>    the plugin's manifest.json
  -h, --help           this text
  -v, --version        the version
`;

/** A usage error: names what is wrong and points at `homecore --help`. */
export function usageError(message: string): HomecoreError {
  return new HomecoreError(ErrorCode.CLI_USAGE, `${message}\nRun "homecore --help" for usage.`);
}
