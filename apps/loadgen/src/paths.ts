import { resolve } from 'node:path';

/** This file runs from dist/apps/loadgen/src: the repository root is four levels up. */
export const REPO_ROOT = resolve(import.meta.dirname, '../../../..');
export const GATEWAY_MAIN = resolve(REPO_ROOT, 'dist/apps/gateway/src/main.js');
export const BASELINE_MAIN = resolve(REPO_ROOT, 'dist/bench/baseline/baseline-server.js');
export const LOCAL_MAIN = resolve(REPO_ROOT, 'dist/bench/baseline/local-server.js');
export const STREAMS_MAIN = resolve(REPO_ROOT, 'dist/bench/baseline/streams-server.js');
/** The gateway of another checkout of Herald (the `previous` system), built there with `npm run build`. */
export const gatewayMainOf = (checkout: string): string => resolve(checkout, 'dist/apps/gateway/src/main.js');
export const INSTANCE_PROBE = resolve(REPO_ROOT, 'dist/bench/probes/instance-probe.js');
export const DEFAULT_RESULTS_DIR = resolve(REPO_ROOT, 'bench/results');
