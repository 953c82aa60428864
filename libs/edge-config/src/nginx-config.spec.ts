import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COMPOSE_NGINX_OPTIONS, EDGE_LIMIT_DEFAULTS, NginxConfigError, renderNginxConfig, upstreamServersOf, type NginxRenderOptions } from './nginx-config.js';

const local: NginxRenderOptions = {
  listen: '127.0.0.1:8080',
  upstreams: [
    { host: '127.0.0.1', port: 3001 },
    { host: '127.0.0.1', port: 3002 },
  ],
  pidFile: '/tmp/x/nginx.pid',
  tempDir: '/tmp/x/temp',
  workerProcesses: 1,
  accessLog: 'off',
};

describe('renderNginxConfig', () => {
  it('fills every placeholder of the real template', () => {
    const config = renderNginxConfig(local);
    assert.doesNotMatch(config, /\{\{\w+\}\}/);
    assert.deepEqual(upstreamServersOf(config), local.upstreams);
    assert.match(config, /listen 127\.0\.0\.1:8080 default_server;/);
    assert.match(config, /hash \$remote_addr consistent;/);
    assert.match(config, /server 127\.0\.0\.1:3001 max_fails=0 fail_timeout=10s;/);
    assert.match(config, /server_tokens off;/);
  });

  it('renders the compose upstream from the gateway service names', () => {
    assert.deepEqual(
      upstreamServersOf(renderNginxConfig(COMPOSE_NGINX_OPTIONS)).map((server) => `${server.host}:${server.port}`),
      ['gateway-1:3000', 'gateway-2:3000', 'gateway-3:3000'],
    );
  });

  it('refuses options that would break or inject into the config', () => {
    assert.throws(() => renderNginxConfig({ ...local, upstreams: [] }), NginxConfigError);
    assert.throws(() => renderNginxConfig({ ...local, upstreams: [{ host: 'a; include /etc/passwd', port: 1 }] }), /invalid upstream host/);
    assert.throws(() => renderNginxConfig({ ...local, upstreams: [{ host: 'a', port: 70000 }] }), /invalid upstream port/);
    assert.throws(() => renderNginxConfig({ ...local, listen: '8080; daemon on' }), /invalid listen/);
  });

  it('refuses a template with an unknown placeholder', () => {
    assert.throws(() => renderNginxConfig(local, 'listen {{listen}}; {{typo}}'), /unknown placeholder \{\{typo\}\}/);
  });
  it('renders the per-address limits (defaults or given) and refuses nonsense ones', () => {
    const upstreams = [{ host: '127.0.0.1', port: 3000 }];
    const base = { listen: '8080', upstreams, pidFile: '/tmp/nginx.pid', tempDir: '/tmp', workerProcesses: 1, accessLog: 'off' } as const;
    const defaults = renderNginxConfig(base);
    assert.match(defaults, new RegExp(`rate=${EDGE_LIMIT_DEFAULTS.handshakesPerSecond}r/s;`));
    assert.match(defaults, new RegExp(`limit_req zone=herald_handshakes burst=${EDGE_LIMIT_DEFAULTS.handshakeBurst} nodelay;`));
    assert.match(defaults, new RegExp(`limit_conn herald_connections ${EDGE_LIMIT_DEFAULTS.connectionsPerAddress};`));
    const given = renderNginxConfig({ ...base, limits: { handshakesPerSecond: 5, connectionsPerAddress: 7 } });
    assert.match(given, /rate=5r\/s;/);
    assert.match(given, /limit_conn herald_connections 7;/);
    assert.throws(() => renderNginxConfig({ ...base, limits: { handshakeBurst: 0 } }), /invalid edge limit handshakeBurst/);
    assert.throws(() => renderNginxConfig({ ...base, limits: { handshakesPerSecond: 1.5 } }), /invalid edge limit handshakesPerSecond/);
  });
});
