export * from './herald-client.js';
export * from './cursor-storage.js';
export * from './typed-emitter.js';
export * from './cursor-order.js';
// The load generator acknowledges exactly as the SDK does (docs/performance.md, acknowledgement cost).
export { AckBatcher, DEFAULT_ACK_INTERVAL_MS } from './ack-batcher.js';
