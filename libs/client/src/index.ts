export * from './herald-client.js';
export * from './cursor-storage.js';
export * from './typed-emitter.js';
export * from './cursor-order.js';
