import { ProcessesTopology } from './processes-topology.js';
import { topologyConfig } from './topology-config.js';
import type { Topology, TopologyOptions } from './topology.js';

export * from './topology.js';
export { DEFAULT_IMAGES, DOCKER_HINT, RUN_LABEL, composeProjectName, composeStackEnv, topologyConfig, type TopologyConfig } from './topology-config.js';

/**
 * Starts the topology this test run asks for: `HERALD_TOPOLOGY=processes` (the default, what `npm test` uses) or
 * `containers` (what `npm run test:containers` sets). The caller stops it in `after()`.
 */
export async function startTopology(options: TopologyOptions = {}): Promise<Topology> {
  if (topologyConfig().HERALD_TOPOLOGY === 'processes') return ProcessesTopology.start(options);
  // Loaded only here: `npm test` neither loads testcontainers nor looks for a Docker engine.
  const { ContainersTopology } = await import('./containers-topology.js');
  return ContainersTopology.start(options);
}
/** The processes topology whatever HERALD_TOPOLOGY says: the chaos suite runs it next to the compose stack. */
export { ProcessesTopology } from './processes-topology.js';
