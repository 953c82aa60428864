export * from './binaries.js';
export * from './nginx-config.js';
export * from './repo-root.js';
export * from './local-nginx.js';
export * from './prometheus-config.js';
