export * from './herald-metrics.js';
export * from './label-maps.js';
