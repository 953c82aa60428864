export * from './patterns.js';
export * from './client-events.js';
export * from './client-requests.js';
export * from './commands.schema.js';
export * from './wire.js';
export * from './metric-labels.js';
export * from './inbox.js';
