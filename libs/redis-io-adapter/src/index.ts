export * from './redis-io.adapter.js';
