import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import {
  ALERTS_FILE,
  ALERT_TESTS_DIR,
  PROMETHEUS_CONFIG_FILE,
  PROMETHEUS_DIR,
  loadAlertRules,
  promtool,
  promtoolAlertFailures,
  readYaml,
  type AlertRule,
} from '@herald/testing';

const testFiles = async (directory: string): Promise<string[]> =>
  (await readdir(directory))
    .filter((name) => name.endsWith('.yml'))
    .sort()
    .map((name) => join(directory, name));

describe('alert rules: promtool checks and unit tests', () => {
  const rules = loadAlertRules();

  it('promtool check config accepts prometheus.yml and the rule file it loads', async () => {
    const result = await promtool(['check', 'config', PROMETHEUS_CONFIG_FILE]);
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /SUCCESS: 1 rule files found/);
  });

  it('promtool check rules accepts alerts.yml', async () => {
    const result = await promtool(['check', 'rules', ALERTS_FILE]);
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, new RegExp(`SUCCESS: ${rules.length} rules found`));
  });

  it('promtool test rules passes every unit test in prometheus/tests', async () => {
    const files = await testFiles(ALERT_TESTS_DIR);
    assert.ok(files.length > 0);
    const result = await promtool(['test', 'rules', ...files]);
    assert.equal(result.code, 0, result.output);
  });

  it('has the alerts ops asked for, each with a severity, a summary, a description and a first action', () => {
    assert.deepEqual(rules.map((rule) => rule.alert).sort(), [
      'HeraldCommandsDeadLettered',
      'HeraldCommandsRejected',
      'HeraldConnectionRejectionSpike',
      'HeraldDeliveryLatencyHigh',
      'HeraldEventLoopLagHigh',
      'HeraldHighConnectionCount',
      'HeraldInstanceDown',
      'HeraldNothingDelivered',
      'HeraldRedisDisconnected',
      'HeraldRouteCanaryFailing',
    ]);
    for (const rule of rules) {
      assert.ok(['critical', 'warning'].includes(rule.labels?.['severity'] ?? ''), `${rule.alert} severity`);
      for (const annotation of ['summary', 'description', 'action']) {
        assert.ok((rule.annotations?.[annotation] ?? '').length > 20, `${rule.alert} ${annotation}`);
      }
      assert.match(rule.for ?? '', /^\d+[smh]$/, `${rule.alert} needs a for: duration, so one bad scrape does not page`);
    }
  });

  it('names unit tests "fires ..." or "does not fire ..." (the mutation check below relies on it)', async () => {
    for (const file of await testFiles(ALERT_TESTS_DIR)) {
      const { tests } = readYaml<{ tests: Array<{ name: string }> }>(file);
      for (const test of tests) assert.match(test.name, /^(fires|does not fire) /, `${file}: ${test.name}`);
    }
  });

  describe('every alert has a case where it fires and one where it must not: breaking the alert fails its tests', () => {
    let scratch: string;

    before(async () => {
      scratch = await mkdtemp(join(tmpdir(), 'herald-alert-mutants-'));
    });
    after(async () => {
      await rm(scratch, { recursive: true, force: true });
    });

    /** A copy of prometheus/ in which `alert`'s expression is replaced; returns the promtool failures for its tests. */
    const mutate = async (alert: string, expr: string) => {
      const directory = join(scratch, `${alert}-${expr.length}`);
      await cp(PROMETHEUS_DIR, directory, { recursive: true });
      const groups = readYaml<{ groups: Array<{ name: string; rules: AlertRule[] }> }>(ALERTS_FILE).groups.map((group) => ({
        ...group,
        rules: group.rules.map((rule) => (rule.alert === alert ? { ...rule, expr } : rule)),
      }));
      await writeFile(join(directory, 'alerts.yml'), stringify({ groups }));
      const files = (await testFiles(join(directory, 'tests'))).filter((file) => readFileSync(file, 'utf8').includes(`alertname: ${alert}`));
      const result = await promtool(['test', 'rules', ...files]);
      return { code: result.code, output: result.output, failures: promtoolAlertFailures(result.output).filter((failure) => failure.alertname === alert) };
    };

    for (const rule of rules) {
      it(`${rule.alert}: never firing breaks a "fires" test, always firing breaks a "does not fire" test`, async () => {
        const never = await mutate(rule.alert, 'absent(vector(1))');
        assert.notEqual(never.code, 0, `${rule.alert} replaced by an empty expression still passes:\n${never.output}`);
        assert.ok(
          never.failures.some((failure) => failure.test.startsWith('fires') && !failure.expectedNone),
          `no "fires" test of ${rule.alert} noticed it never fires:\n${never.output}`,
        );

        const always = await mutate(rule.alert, 'vector(1)');
        assert.notEqual(always.code, 0, `${rule.alert} replaced by an always-true expression still passes:\n${always.output}`);
        assert.ok(
          always.failures.some((failure) => failure.test.startsWith('does not fire') && failure.expectedNone),
          `no "does not fire" test of ${rule.alert} noticed it always fires:\n${always.output}`,
        );
      });
    }

    it('a rule that does not parse fails promtool check rules and check config', async () => {
      const directory = join(scratch, 'unparsable');
      await cp(PROMETHEUS_DIR, directory, { recursive: true });
      const groups = readYaml<{ groups: Array<{ name: string; rules: AlertRule[] }> }>(ALERTS_FILE).groups.map((group) => ({
        ...group,
        rules: group.rules.map((rule, index) => (index === 0 ? { ...rule, expr: 'sum(rate(herald_connected_sockets[5m]' } : rule)),
      }));
      await writeFile(join(directory, 'alerts.yml'), stringify({ groups }));
      const rulesCheck = await promtool(['check', 'rules', join(directory, 'alerts.yml')]);
      assert.notEqual(rulesCheck.code, 0, rulesCheck.output);
      const configCheck = await promtool(['check', 'config', join(directory, 'prometheus.yml')]);
      assert.notEqual(configCheck.code, 0, configCheck.output);
    });
  });
});
