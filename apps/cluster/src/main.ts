import { loadClusterConfig, type ClusterConfig } from './cluster-config.js';
import { LocalCluster } from './local-cluster.js';

// `npm start`: the whole topology from local binaries (docs/operations.md). Ctrl-C / SIGTERM stops every child.
let config: ClusterConfig;
try {
  config = loadClusterConfig(process.env);
} catch (error) {
  process.stderr.write(`[herald] ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(78); // EX_CONFIG
}

const cluster = new LocalCluster(config);
let signals = 0;
const onSignal = (signal: NodeJS.Signals): void => {
  signals++;
  if (signals > 1) {
    process.stdout.write(`[herald] ${signal} again: killing everything now\n`);
    cluster.killNow();
    process.exit(130);
  }
  void cluster.stop().then(() => process.exit(0));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
// Whatever ends this process, no child or temporary file may outlive it.
process.on('exit', () => cluster.killNow());
cluster.onStopped((code) => process.exit(code));

cluster.start().catch(async (error: unknown) => {
  process.stderr.write(`[herald] cluster failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  await cluster.stop();
  process.exit(1);
});
