/** abrt's core_backtrace (text and satyr JSON) and FAF uReports: parsed, checked, and symbolized offline by build-id. */
export * from './model';
export * from './parse';
export * from './ureport';
export * from './symbolize';
export { parseAddr2line, type AddressLocations, type SourceLocation } from './addr2line';
export { readLoadLayout, type LoadLayout } from './load-base';
