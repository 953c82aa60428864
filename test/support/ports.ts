// One implementation for tests and the local cluster.
export { freePort } from '@herald/local-services';
