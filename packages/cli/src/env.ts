/** The environment variable naming the hub's data directory when `--data-dir` is not given. */
export const DATA_DIR_ENV = 'HOMECORE_DATA_DIR';
