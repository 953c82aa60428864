export * from './redis-io.adapter.js';
export * from './sharded-router.js';
export * from './redis-connection.js';
