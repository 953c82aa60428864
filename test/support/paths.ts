import { resolve } from 'node:path';

/** Tests run from dist/test/support: the repository root is three levels up. */
export const REPO_ROOT = resolve(import.meta.dirname, '../../..');
export const GATEWAY_MAIN = resolve(REPO_ROOT, 'dist/apps/gateway/src/main.js');
