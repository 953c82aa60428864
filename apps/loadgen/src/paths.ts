import { resolve } from 'node:path';

/** This file runs from dist/apps/loadgen/src: the repository root is four levels up. */
export const REPO_ROOT = resolve(import.meta.dirname, '../../../..');
export const GATEWAY_MAIN = resolve(REPO_ROOT, 'dist/apps/gateway/src/main.js');
export const BASELINE_MAIN = resolve(REPO_ROOT, 'dist/bench/baseline/baseline-server.js');
export const INSTANCE_PROBE = resolve(REPO_ROOT, 'dist/bench/probes/instance-probe.js');
export const DEFAULT_RESULTS_DIR = resolve(REPO_ROOT, 'bench/results');
