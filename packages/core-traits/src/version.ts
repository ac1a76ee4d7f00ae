/** The HOMECORE version plugins compare `min_homecore_version` against. */
export const HOMECORE_VERSION = '0.1.0';
