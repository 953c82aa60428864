#!/usr/bin/env node
// Checks that testcontainers can drive this machine's Docker engine with the local images: starts REDIS_IMAGE with
// GenericContainer, waits for its port, PINGs it from the host, stops it, and prints how long each step took.
// Run after scripts/docker-local.sh, with its environment:
//   . .tmp/docker-local.env && node_modules/.bin/node scripts/testcontainers-smoke.mjs
import { GenericContainer, Wait } from 'testcontainers';
import { createClient } from 'redis';

const image = process.env.REDIS_IMAGE;
if (!image) {
  console.error('REDIS_IMAGE is not set: run `sudo bash scripts/docker-local.sh`, then `. .tmp/docker-local.env`');
  process.exit(2);
}

const seconds = (since) => ((performance.now() - since) / 1000).toFixed(2);
const step = async (what, action) => {
  const started = performance.now();
  const result = await action();
  console.log(`${what}: ${seconds(started)} s`);
  return result;
};

const started = await step(`start ${image}`, () =>
  new GenericContainer(image).withExposedPorts(6379).withWaitStrategy(Wait.forListeningPorts()).withStartupTimeout(60_000).start(),
);
let failed = false;
try {
  const url = `redis://${started.getHost()}:${started.getMappedPort(6379)}`;
  console.log(`container ${started.getId().slice(0, 12)} at ${url}`);
  const reply = await step('PING from the host', async () => {
    const client = createClient({ url, socket: { connectTimeout: 5_000, reconnectStrategy: false } });
    await client.connect();
    try {
      return await client.ping();
    } finally {
      await client.close();
    }
  });
  if (reply !== 'PONG') throw new Error(`expected PONG, got ${String(reply)}`);
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  await step('stop', () => started.stop());
}
process.exit(failed ? 1 : 0);
