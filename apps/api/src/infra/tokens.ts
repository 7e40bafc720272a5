/** DI tokens for the providers that are not classes (interfaces, library objects). */
export const CONFIG = Symbol('TriageConfig');
export const STORAGE = Symbol('StoragePort');
