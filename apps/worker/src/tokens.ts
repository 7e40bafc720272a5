/** DI tokens for the worker's providers that are not classes. */
export const CONFIG = Symbol('TriageConfig');
export const STORAGE = Symbol('StoragePort');
export const LOGGER = Symbol('Logger');
export const ANALYZER = Symbol('Analyzer');
