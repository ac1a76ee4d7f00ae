// Home Assistant's entity id rule (`core.py` VALID_ENTITY_ID), applied after lowercasing.
const ENTITY_ID = /^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$/;
// Home Assistant's slug rule for domains and service names.
const SLUG = /^(?!.+__)(?!_)[\da-z_]+(?<!_)$/;

/** What a valid entity id looks like, for error messages. */
export const ENTITY_ID_RULE =
  'use domain.object_id in lowercase letters, digits and underscores, with no leading, trailing or double underscores (for example sensor.living_room)';

/** True when `entityId`, lowercased, is a valid Home Assistant entity id such as `light.kitchen`. */
export function isValidEntityId(entityId: string): boolean {
  return typeof entityId === 'string' && ENTITY_ID.test(entityId.toLowerCase());
}

/** True when `name` is a slug: lowercase letters, digits and single inner underscores. */
export function isSlug(name: string): boolean {
  return SLUG.test(name);
}
