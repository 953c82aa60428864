import 'reflect-metadata';
import { ConfigError, loadConfig } from './config/app-config.js';
import { startGateway } from './gateway.bootstrap.js';

// The delivery path: app.module.ts (ingest → inbox → sockets), wired and started by gateway.bootstrap.ts.
try {
  await startGateway(loadConfig(process.env));
} catch (error) {
  process.stderr.write(
    error instanceof ConfigError ? `${error.message}\n` : `herald gateway failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(error instanceof ConfigError ? 78 : 1); // 78: EX_CONFIG
}
