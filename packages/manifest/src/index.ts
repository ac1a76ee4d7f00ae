export { type ManifestIssue } from './issues.js';
export { RESERVED_EVENT_TYPE_NAMES } from './reserved.js';
export { PATTERN_MAX_LENGTH, PATTERN_MAX_WILDCARDS, type PatternProblem, patternProblem } from './pattern.js';
export {
  DEFAULT_ENTRIES,
  DOMAIN_PATTERN,
  HOST_IMPORT_NAMES,
  INTEGRATION_TYPES,
  IOT_CLASSES,
  PERMISSION_ACTION_NAMES,
  QUALITY_SCALES,
  RUNTIME_KINDS,
} from './constants.js';
export { manifestSchema } from './schema-data.js';
export { type ManifestMode } from './hassfest.js';
export {
  type CoreManifest,
  type ManifestFor,
  type ManifestValidation,
  type ManifestValidationOptions,
  type ParsedManifest,
  type PluginManifest,
  type ResolvedManifest,
  parseManifest,
  validateManifest,
} from './validate.js';
export { compareVersions, isHomeAssistantVersion, satisfiesMinVersion } from './version.js';
export {
  GRANT_FIELDS,
  type GrantField,
  type GrantValue,
  type ManifestComparison,
  type ManifestDifference,
  type ManifestGrant,
  compareManifests,
  grantOf,
  patternCovers,
} from './compare.js';
