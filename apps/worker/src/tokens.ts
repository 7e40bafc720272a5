/** DI tokens for the worker's providers that are not classes (the logger's is LOGGER from @triage/infra). */
export const CONFIG = Symbol('TriageConfig');
export const STORAGE = Symbol('StoragePort');
export const ANALYZER = Symbol('Analyzer');
