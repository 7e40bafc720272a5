export * from './tokens';
export * from './signed-links';
export * from './sandbox-status';
export * from './redact';
