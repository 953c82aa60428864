export * from './herald-publisher.js';
export * from './herald-publisher.module.js';
export * from './herald-stream.client.js';
