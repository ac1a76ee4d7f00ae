// Home Assistant's entity id rule (`core.py` VALID_ENTITY_ID), applied after lowercasing.
const ENTITY_ID = /^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$/;
// Home Assistant's slug rule for domains and service names.
const SLUG = /^(?!.+__)(?!_)[\da-z_]+(?<!_)$/;

/** Home Assistant's longest entity id (`MAX_LENGTH_STATE_ENTITY_ID`). */
export const MAX_ENTITY_ID_LENGTH = 255;

/** What a valid entity id looks like, for error messages. */
export const ENTITY_ID_RULE =
  `use domain.object_id in lowercase letters, digits and underscores, at most ${MAX_ENTITY_ID_LENGTH} characters, with no leading, trailing or double underscores (for example sensor.living_room)`;

/** True when `entityId`, lowercased, is a valid Home Assistant entity id such as `light.kitchen` (at most 255 characters). */
export function isValidEntityId(entityId: string): boolean {
  // The length first: the regex never runs on a huge string.
  return typeof entityId === 'string' && entityId.length <= MAX_ENTITY_ID_LENGTH && ENTITY_ID.test(entityId.toLowerCase());
}

/** True when `name` is a slug: lowercase letters, digits and single inner underscores. */
export function isSlug(name: string): boolean {
  return SLUG.test(name);
}
