// PLACEHOLDER CONTRACT, replaced by the TypeBox schema: the field names below are fixed.
export interface PluginManifest {
  domain: string;
  name: string;
  version: string;
  runtime?: 'native' | 'wasm';
  entry?: string;
  module_hash?: string;
  module_signature?: string;
  publisher_key?: string;
  min_homecore_version?: string;
  host_imports_required?: string[];
  permissions?: string[];
  limits?: {
    memory_pages?: number;
    fuel_per_call?: number;
    payload_bytes?: number;
    host_calls_per_event?: number;
    bytes_written_per_event?: number;
    setup_timeout_ms?: number;
    teardown_timeout_ms?: number;
    queue_capacity?: number;
  };
  services?: { name: string; description?: string; schema?: Record<string, unknown> }[];
  subscriptions?: { entities?: string[]; events?: string[] };
  config_schema?: Record<string, unknown>;
  cog_id?: string;
  cog_publisher?: string;
  dependencies?: string[];
  after_dependencies?: string[];
  disabled?: string;
  [key: string]: unknown;
}
