import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  COMPOSE_GATEWAY_ALIAS,
  COMPOSE_NGINX_OPTIONS,
  EDGE_LIMIT_DEFAULTS,
  NginxConfigError,
  renderNginxConfig,
  upstreamServersOf,
  type NginxRenderOptions,
} from './nginx-config.js';

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

  it('fixed addresses keep one upstream block and no resolver: nothing to re-resolve', () => {
    const config = renderNginxConfig(local);
    assert.doesNotMatch(config, /resolver|split_clients|error_page|@\w+_failover/);
    assert.equal(config.match(/proxy_pass http:\/\/herald_gateways;/g)?.length, 2);
    assert.match(config, /keepalive 32;/);
  });

  it('compose names are resolved per request: resolver with a short valid, proxy_pass through variables, no upstream block', () => {
    const config = renderNginxConfig(COMPOSE_NGINX_OPTIONS);
    assert.match(config, /^ {4}resolver 127\.0\.0\.11 valid=5s ipv6=off;$/m);
    assert.match(config, /^ {4}resolver_timeout 3s;$/m);
    // An upstream block would resolve its names once, at start.
    assert.doesNotMatch(config, /upstream\s+\w+\s*\{/);
    assert.doesNotMatch(config, /proxy_pass http:\/\/(?!\$)/);
    assert.match(config, /split_clients "\$\{remote_addr\}" \$herald_gateway \{\n {8}33\.33% gateway-1:3000;\n {8}33\.33% gateway-2:3000;\n {8}\* gateway-3:3000;\n/);
    assert.match(config, new RegExp(`default ${COMPOSE_GATEWAY_ALIAS}:3000;`));
  });

  it('every proxied location fails over to all gateways with its own timeouts (a named location inherits only the server)', () => {
    const config = renderNginxConfig(COMPOSE_NGINX_OPTIONS);
    const body = (pattern: string): string[] => {
      const block = new RegExp(`location ${pattern} \\{([^}]*)\\}`).exec(config)?.[1];
      assert.ok(block !== undefined, `no location ${pattern}`);
      return block
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line.startsWith('proxy_') && !line.startsWith('proxy_pass'));
    };
    for (const [path, name] of [
      ['/socket.io/', 'socketio'],
      ['/health/', 'health'],
    ] as const) {
      assert.match(config, new RegExp(`location ${path} \\{[^}]*error_page 502 504 = @${name}_failover;`));
      assert.match(config, new RegExp(`location @${name}_failover \\{\\n\\s*proxy_pass http://\\$herald_failover;`));
      assert.deepEqual(body(`@${name}_failover`), body(path.replace(/\./g, '\\.')));
      assert.ok(body(path).length > 0);
    }
  });

  it('refuses a resolver setup that cannot work', () => {
    const resolver = { address: '127.0.0.11', validSeconds: 5, failoverHost: 'gateways' };
    assert.throws(() => renderNginxConfig({ ...local, resolver: { ...resolver, address: 'dns; x' } }), /invalid resolver address/);
    assert.throws(() => renderNginxConfig({ ...local, resolver: { ...resolver, validSeconds: 0 } }), /invalid resolver validSeconds/);
    assert.throws(() => renderNginxConfig({ ...local, resolver: { ...resolver, failoverHost: 'a b' } }), /invalid failover host/);
    assert.throws(() => renderNginxConfig({ ...local, resolver }), /same port/);
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
