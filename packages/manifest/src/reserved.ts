import { type ManifestIssue, show } from './issues.js';

/**
 * Event types only the core fires (Home Assistant's core-owned events); a plugin may never fire
 * them, whatever it claims. core-traits' `RESERVED_EVENT_TYPES` is built from this list.
 */
export const RESERVED_EVENT_TYPE_NAMES: readonly string[] = Object.freeze([
  'state_changed',
  'state_reported',
  'call_service',
  'service_registered',
  'service_removed',
  'time_changed',
  'homeassistant_start',
  'homeassistant_started',
  'homeassistant_stop',
  'homeassistant_final_write',
  'homeassistant_close',
  'component_loaded',
  'core_config_updated',
  'entity_registry_updated',
  'device_registry_updated',
  'area_registry_updated',
  'floor_registry_updated',
  'label_registry_updated',
  'category_registry_updated',
  'config_entry_discovered',
  'logging_changed',
  'user_added',
  'user_updated',
  'user_removed',
  'themes_updated',
  'panels_updated',
]);

const RESERVED: ReadonlySet<string> = new Set(RESERVED_EVENT_TYPE_NAMES);

/**
 * Warns about `event:fire:<type>` claims naming a reserved type exactly: the registry refuses those
 * events at run time (HC_ERR_EVENT_TYPE_RESERVED) whatever the claim, so the claim is dead weight.
 * A warning, not an error: such a manifest loaded before, and nothing it could do is widened.
 */
export function checkReservedEventClaims(fields: Record<string, unknown>, warnings: ManifestIssue[]): void {
  const { permissions } = fields;
  if (!Array.isArray(permissions)) return;
  permissions.forEach((claim: unknown, index) => {
    if (typeof claim !== 'string' || !claim.startsWith('event:fire:')) return;
    const type = claim.slice('event:fire:'.length);
    if (!RESERVED.has(type)) return;
    warnings.push({
      pointer: `/permissions/${index}`,
      rule: 'reserved-event',
      message: `${show(claim)} can never be used: ${type} is fired only by the core, and plugins may not fire it whatever they claim; remove the claim`,
    });
  });
}
