import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COMPOSE_NGINX_OPTIONS, NginxConfigError, renderNginxConfig, upstreamServersOf, type NginxRenderOptions } from './nginx-config.js';

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

  it('serves the demo page and proxies the token endpoint only when given a demo folder', () => {
    const withDemo = renderNginxConfig({ ...local, demoRoot: '/srv/herald/dist/demo' });
    assert.match(withDemo, /location \/demo\/ \{\s+alias \/srv\/herald\/dist\/demo\/;/);
    assert.match(withDemo, /Content-Security-Policy "default-src 'none'; script-src 'self';/);
    assert.match(withDemo, /location = \/dev\/token \{\s+proxy_pass http:\/\/herald_gateways;/);
    const without = renderNginxConfig(local);
    assert.doesNotMatch(without, /\/demo\/|\/dev\/token/);
    assert.throws(() => renderNginxConfig({ ...local, demoRoot: '/srv/demo; root /' }), /invalid demoRoot/);
    assert.throws(() => renderNginxConfig({ ...local, demoRoot: 'relative/demo' }), /invalid demoRoot/);
  });

  it('refuses a template with an unknown placeholder', () => {
    assert.throws(() => renderNginxConfig(local, 'listen {{listen}}; {{typo}}'), /unknown placeholder \{\{typo\}\}/);
  });
});
