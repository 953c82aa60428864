import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '@herald/edge-config';
import { loadClusterConfig } from './cluster-config.js';

describe('loadClusterConfig', () => {
  it('defaults to the compose stack ports, its own redis and the development secret', () => {
    const config = loadClusterConfig({});
    assert.deepEqual(config.gatewayPorts, [3001, 3002, 3003]);
    assert.equal(config.nginxPort, 8080);
    assert.equal(config.prometheusPort, 9090);
    assert.equal(config.redisUrl, undefined);
    assert.equal(config.redisDir, resolve(REPO_ROOT, '.tmp/cluster/redis'));
    assert.equal(config.developmentSecret, true);
    assert.equal(config.prometheus, true);
  });

  it('takes ports, REDIS_URL and a real secret from the environment', () => {
    const config = loadClusterConfig({
      HERALD_GATEWAY_PORTS: '4001, 4002',
      HERALD_NGINX_PORT: '4080',
      REDIS_URL: 'redis://10.0.0.1:6380',
      JWT_SECRET: 'x'.repeat(32),
      HERALD_PROMETHEUS: '0',
    });
    assert.deepEqual(config.gatewayPorts, [4001, 4002]);
    assert.equal(config.nginxPort, 4080);
    assert.equal(config.redisUrl, 'redis://10.0.0.1:6380');
    assert.equal(config.developmentSecret, false);
    assert.equal(config.prometheus, false);
  });

  it('takes the data folder of its own redis from HERALD_REDIS_DIR, made absolute', () => {
    assert.equal(loadClusterConfig({ HERALD_REDIS_DIR: '/var/tmp/herald-redis' }).redisDir, '/var/tmp/herald-redis');
    assert.equal(loadClusterConfig({ HERALD_REDIS_DIR: 'data/redis' }).redisDir, resolve('data/redis'));
  });

  it('names the bad variable', () => {
    assert.throws(() => loadClusterConfig({ HERALD_GATEWAY_PORTS: '3001,abc' }), /HERALD_GATEWAY_PORTS/);
    assert.throws(() => loadClusterConfig({ HERALD_NGINX_PORT: '99999' }), /HERALD_NGINX_PORT/);
    assert.throws(() => loadClusterConfig({ REDIS_URL: 'http://x' }), /REDIS_URL/);
    assert.throws(() => loadClusterConfig({ HERALD_NGINX_PORT: '3001' }), /ports must differ/);
  });
});
