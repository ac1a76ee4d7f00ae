// What `get_services` and `GET /api/services` list. HostCore has no call that lists services, so the
// catalog follows `service_registered` / `service_removed` on the bus from the moment the server is
// created, adds what loaded plugins declare in their manifests (with their descriptions), and what
// the host passes as `services` for services registered before the server existed.
import type { BusEvent, JsonValue } from '@homecore/core-traits';
import type { PluginRegistry } from '@homecore/registry';

/** A service as Home Assistant describes it (`services.yaml`): name, description, fields. */
export interface ServiceDescription {
  name: string;
  description: string;
  fields: Record<string, { name?: string; description?: string; required?: boolean }>;
}

export class ServiceCatalog {
  private readonly seen = new Map<string, Set<string>>();

  constructor(
    private readonly registry: PluginRegistry,
    private readonly extra: (() => Readonly<Record<string, readonly string[]>>) | undefined,
    /** The core's own check, when it has one (the reference core's `hasService`). */
    private readonly has: ((domain: string, service: string) => boolean) | undefined,
  ) {}

  /** Follows registrations on the bus. */
  observe(event: BusEvent): void {
    if (event.event_type !== 'service_registered' && event.event_type !== 'service_removed') return;
    const { domain, service } = event.data as { domain?: unknown; service?: unknown };
    if (typeof domain !== 'string' || typeof service !== 'string') return;
    if (event.event_type === 'service_registered') {
      let services = this.seen.get(domain);
      if (services === undefined) this.seen.set(domain, (services = new Set()));
      services.add(service);
    } else {
      this.seen.get(domain)?.delete(service);
      if (this.seen.get(domain)?.size === 0) this.seen.delete(domain);
    }
  }

  /** Every known service by domain, as `get_services` returns them. */
  describe(): Record<string, Record<string, ServiceDescription>> {
    const out: Record<string, Record<string, ServiceDescription>> = {};
    const add = (domain: string, service: string, description?: ServiceDescription) => {
      const services = (out[domain] ??= {});
      if (description !== undefined || services[service] === undefined) services[service] = description ?? { name: service, description: '', fields: {} };
    };
    for (const [domain, services] of Object.entries(this.extra?.() ?? {})) for (const service of services) add(domain, service);
    for (const [domain, services] of this.seen) for (const service of services) add(domain, service);
    for (const plugin of this.registry.list()) {
      if (plugin.state !== 'loaded') continue;
      for (const declared of plugin.manifest.services ?? []) {
        const registered = this.seen.get(plugin.id)?.has(declared.name) === true || this.has?.(plugin.id, declared.name) === true;
        if (!registered) continue; // declared but not (or no longer) registered
        add(plugin.id, declared.name, {
          name: declared.name,
          description: declared.description ?? '',
          fields: fieldsOf(declared.schema),
        });
      }
    }
    return out;
  }
}

function fieldsOf(schema: Readonly<Record<string, unknown>> | undefined): ServiceDescription['fields'] {
  const fields: ServiceDescription['fields'] = {};
  const properties = schema?.properties;
  if (typeof properties !== 'object' || properties === null) return fields;
  const required = new Set(Array.isArray(schema?.required) ? (schema.required as JsonValue[]).filter((r): r is string => typeof r === 'string') : []);
  for (const [key, value] of Object.entries(properties as Record<string, unknown>)) {
    const field: ServiceDescription['fields'][string] = {};
    const prop = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
    if (typeof prop.title === 'string') field.name = prop.title;
    if (typeof prop.description === 'string') field.description = prop.description;
    if (required.has(key)) field.required = true;
    fields[key] = field;
  }
  return fields;
}
