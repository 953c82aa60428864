import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  COMPOSE_GATEWAYS,
  COMPOSE_GATEWAY_ALIAS,
  COMPOSE_NGINX_CONF_PATH,
  COMPOSE_NGINX_OPTIONS,
  COMPOSE_NGINX_PORT,
  renderNginxConfig,
  upstreamServersOf,
} from '@herald/edge-config';
import { REPO_ROOT, composeConfig, type ComposeModel, type ComposeService } from '@herald/testing';
import { parse } from 'yaml';

// Structural checks of the compose stack, without a Docker engine. Running it for real is the testcontainers issue's.
const COMPOSE_FILE = join(REPO_ROOT, 'docker-compose.yml');
const EXPECTED_SERVICES = ['redis', ...COMPOSE_GATEWAYS, 'nginx', 'prometheus', 'grafana'];
const IMAGE_VARIABLES = ['REDIS_IMAGE', 'HERALD_IMAGE', 'NGINX_IMAGE', 'PROMETHEUS_IMAGE', 'GRAFANA_IMAGE'];

const service = (model: ComposeModel, name: string): ComposeService => {
  const found = model.services[name];
  assert.ok(found, `docker-compose.yml has no service ${name}`);
  return found;
};

const publishedPorts = (svc: ComposeService): string[] => (svc.ports ?? []).map((port) => (typeof port === 'string' ? port : `${port.published}:${port.target}`));

/** `source -> target` of every bind mount, with sources relative to the repository. */
const bindMounts = (svc: ComposeService): Array<{ source: string; target: string }> =>
  (svc.volumes ?? []).map((volume) => {
    if (typeof volume !== 'string') return { source: volume.source, target: volume.target };
    const [source, target] = volume.split(':');
    return { source, target };
  });

const relativeToRepo = (path: string): string => (path.startsWith(REPO_ROOT) ? path.slice(REPO_ROOT.length + 1) : path);

describe('docker-compose.yml (checked without an engine)', () => {
  let model: ComposeModel;
  let scratch: string;

  before(async () => {
    const checked = await composeConfig(COMPOSE_FILE);
    assert.ok(checked.ok && checked.model, `docker-compose config rejected docker-compose.yml:\n${checked.output}`);
    model = checked.model;
    scratch = mkdtempSync(join(tmpdir(), 'herald-compose-'));
  });

  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('the checker rejects broken compose files (so a green check means something)', async () => {
    const original = readFileSync(COMPOSE_FILE, 'utf8');
    const broken = {
      'a misspelt key': original.replace('    healthcheck:\n      test: ["CMD", "redis-cli", "ping"]', '    healthchek:\n      test: ["CMD", "redis-cli", "ping"]'),
      'a depends_on naming no service': original.replace('    redis:\n      condition: service_healthy', '    redis-server:\n      condition: service_healthy'),
      'invalid YAML': `${original}\n  : [unclosed\n`,
    };
    for (const [what, text] of Object.entries(broken)) {
      assert.notEqual(text, original, `could not build a file with ${what}`);
      const file = join(scratch, 'docker-compose.yml');
      writeFileSync(file, text);
      assert.equal((await composeConfig(file)).ok, false, `a file with ${what} passed the check`);
    }
  });

  it('runs redis, three gateways, nginx on 8080, prometheus on 9090 and grafana on 3000', () => {
    assert.deepEqual(Object.keys(model.services).sort(), [...EXPECTED_SERVICES].sort());
    assert.ok(publishedPorts(service(model, 'nginx')).some((port) => port.endsWith(`8080:${COMPOSE_NGINX_PORT}/tcp`) || port === `8080:${COMPOSE_NGINX_PORT}`));
    assert.ok(publishedPorts(service(model, 'prometheus')).some((port) => /^(\S+:)?9090:9090/.test(port)));
    assert.ok(publishedPorts(service(model, 'grafana')).some((port) => /^(\S+:)?3000:3000/.test(port)));
    // Nothing listens beyond this machine unless HERALD_BIND_ADDRESS says so (Prometheus has no auth, Grafana a default password).
    for (const [name, svc] of Object.entries(model.services)) {
      for (const port of publishedPorts(svc)) assert.match(port, /^127\.0\.0\.1:/, `${name} publishes ${port}`);
    }
    for (const name of COMPOSE_GATEWAYS) {
      const environment = service(model, name).environment;
      assert.ok(environment, `${name} has no environment`);
      assert.equal(environment['PORT'], '3000');
      assert.equal(environment['INSTANCE_ID'], name);
      assert.equal(environment['REDIS_URL'], 'redis://redis:6379');
    }
  });

  it('starts in health order: gateways after a healthy redis, nginx after healthy gateways, grafana after a healthy prometheus', () => {
    for (const name of COMPOSE_GATEWAYS) assert.equal(service(model, name).depends_on?.['redis']?.condition, 'service_healthy');
    for (const name of COMPOSE_GATEWAYS) assert.equal(service(model, 'nginx').depends_on?.[name]?.condition, 'service_healthy');
    assert.equal(service(model, 'grafana').depends_on?.['prometheus']?.condition, 'service_healthy');
    // A service_healthy dependency needs a health check: in the compose file, or in the gateway image.
    const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    for (const [name, svc] of Object.entries(model.services)) {
      for (const [dependency, { condition }] of Object.entries(svc.depends_on ?? {})) {
        assert.ok(model.services[dependency], `${name} depends on unknown service ${dependency}`);
        if (condition !== 'service_healthy') continue;
        const checked =
          model.services[dependency].healthcheck !== undefined ||
          (model.services[dependency].build !== undefined && /^HEALTHCHECK .*\/health\/ready/m.test(dockerfile.replace(/\\\n/g, ' ')));
        assert.ok(checked, `${name} waits for ${dependency} to be healthy, but ${dependency} has no health check`);
      }
    }
  });

  it('defaults every image to an official one and lets an environment variable replace each', async () => {
    const raw = parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as ComposeModel;
    for (const [name, svc] of Object.entries(raw.services)) {
      assert.match(svc.image ?? '', /^\$\{[A-Z_]+:-[^}]+\}$/, `${name}'s image is not overridable`);
    }
    assert.equal(service(model, 'nginx').image, 'nginx:1.27-alpine');
    assert.equal(service(model, 'redis').image, 'redis:7-alpine');

    const mirror = Object.fromEntries([...IMAGE_VARIABLES, 'NODE_IMAGE'].map((variable) => [variable, `mirror.internal/${variable.toLowerCase()}:1`]));
    const overridden = await composeConfig(COMPOSE_FILE, mirror);
    assert.ok(overridden.ok && overridden.model, overridden.output);
    const overriddenModel = overridden.model;
    const images = Object.values(overriddenModel.services).map((svc) => svc.image);
    for (const image of images) assert.match(image ?? '', /^mirror\.internal\//);
    for (const name of COMPOSE_GATEWAYS) {
      assert.deepEqual((service(overriddenModel, name).build as { args?: Record<string, string> }).args, { NODE_IMAGE: mirror['NODE_IMAGE'] });
    }
  });

  it('builds a small non-root gateway image whose health check is readiness and whose main process is Node itself', () => {
    const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:24[\w.-]*$/m);
    // A `# syntax=` line makes BuildKit pull a frontend image: impossible without a registry (docs/docker.md).
    assert.doesNotMatch(dockerfile, /^# *syntax *=/im);
    assert.equal(dockerfile.match(/^FROM \$\{NODE_IMAGE\}/gm)?.length, 2, 'a build stage and a runtime stage');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    assert.match(runtime, /^USER (?!root\b)\w+/m);
    // Dev dependencies (TypeScript, the pinned Node of the repo) stay in the build stage.
    assert.match(dockerfile, /npm prune --omit=dev/);
    assert.match(runtime, /^COPY --from=build \/app\/node_modules /m);
    assert.match(runtime.replace(/\\\n/g, ' '), /^HEALTHCHECK .*\/health\/ready/m);
    assert.match(runtime, /^CMD \["node", "dist\/apps\/gateway\/src\/main\.js"\]$/m);
    assert.ok(existsSync(join(REPO_ROOT, '.dockerignore')));
    assert.match(readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8'), /^node_modules$/m);
  });

  it('mounts nginx/nginx.compose.conf, which is the current rendering of the template and names the gateway services', () => {
    const nginx = service(model, 'nginx');
    const mount = bindMounts(nginx).find((volume) => volume.target === '/etc/nginx/nginx.conf');
    assert.equal(relativeToRepo(mount?.source ?? ''), 'nginx/nginx.compose.conf');
    const committed = readFileSync(COMPOSE_NGINX_CONF_PATH, 'utf8');
    assert.equal(committed, renderNginxConfig(COMPOSE_NGINX_OPTIONS), 'nginx/nginx.compose.conf is stale: run `npm run render:nginx`');
    const upstreams = upstreamServersOf(committed);
    assert.deepEqual(upstreams.map((upstream) => upstream.host).sort(), [...COMPOSE_GATEWAYS].sort());
    for (const { host, port } of upstreams) assert.equal(service(model, host).environment?.['PORT'], String(port), `${host} does not listen on ${port}`);
    assert.match(committed, new RegExp(`listen ${COMPOSE_NGINX_PORT} `));
  });

  it('gives every gateway the network alias nginx fails over to, and only gateways carry it', () => {
    for (const [name, definition] of Object.entries(model.services)) {
      const aliases = definition.networks?.['herald']?.aliases ?? [];
      assert.equal(aliases.includes(COMPOSE_GATEWAY_ALIAS), (COMPOSE_GATEWAYS as readonly string[]).includes(name), name);
    }
  });

  it('trusts X-Forwarded-For on the gateways only from nginx', () => {
    const nginxAddress = service(model, 'nginx').networks?.['herald']?.ipv4_address;
    assert.ok(nginxAddress, 'nginx needs a fixed address for the gateways to trust');
    for (const name of COMPOSE_GATEWAYS) {
      assert.deepEqual(String(service(model, name).environment?.['TRUSTED_PROXIES']).split(','), ['loopback', nginxAddress]);
    }
  });

  it('mounts prometheus and grafana files that exist and name services of this file (needs the metrics feature)', () => {
    for (const name of ['prometheus', 'grafana']) {
      for (const { source } of bindMounts(service(model, name))) assert.ok(existsSync(source), `${name} mounts missing ${relativeToRepo(source)}`);
    }
    const prometheus = parse(readFileSync(join(REPO_ROOT, 'prometheus/prometheus.yml'), 'utf8')) as {
      scrape_configs: Array<{ static_configs?: Array<{ targets: string[] }> }>;
      rule_files?: string[];
    };
    const targets = prometheus.scrape_configs.flatMap((job) => job.static_configs ?? []).flatMap((config) => config.targets);
    assert.ok(targets.length > 0);
    for (const target of targets) {
      const [host, port] = target.split(':');
      if (host === 'localhost') continue; // Prometheus scraping itself
      assert.equal(service(model, host).environment?.['PORT'], port, `prometheus target ${target} is not a compose service port`);
    }
    const promTargets = bindMounts(service(model, 'prometheus')).map((mount) => mount.target);
    for (const rules of prometheus.rule_files ?? []) assert.ok(promTargets.includes(join('/etc/prometheus', rules)), `rule file ${rules} is not mounted`);

    const datasources = parse(readFileSync(join(REPO_ROOT, 'grafana/provisioning/datasources/prometheus.yml'), 'utf8')) as { datasources: Array<{ url: string }> };
    for (const { url } of datasources.datasources) {
      const { hostname, port } = new URL(url);
      assert.ok(model.services[hostname], `grafana datasource ${url} names no compose service`);
      assert.ok(publishedPorts(service(model, hostname)).some((published) => published.includes(`:${port}`)));
    }
    const providers = parse(readFileSync(join(REPO_ROOT, 'grafana/provisioning/dashboards/herald.yml'), 'utf8')) as { providers: Array<{ options: { path: string } }> };
    const grafanaTargets = bindMounts(service(model, 'grafana')).map((mount) => mount.target);
    for (const { options } of providers.providers) {
      assert.ok(
        grafanaTargets.some((target) => target.startsWith(`${options.path}/`)),
        `no dashboard is mounted under ${options.path}`,
      );
    }
  });
});
