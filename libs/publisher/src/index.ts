export * from './herald-publisher.js';
export * from './herald-publisher.module.js';
