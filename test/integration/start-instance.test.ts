import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { REPO_ROOT } from '@herald/testing';

const run = promisify(execFile);

/**
 * `npm run start:instance` as a process manager runs it, in a copy of the checkout's package.json and launcher with
 * no sources and no compiler: any build step (a prestart hook, a tsc run) fails there or replaces the build.
 */
describe('npm run start:instance: starts from the existing build, never builds', () => {
  let checkout: string;

  const startInstance = async (): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await run('npm', ['run', '--silent', 'start:instance'], { cwd: checkout, timeout: 30_000, env: { PATH: process.env['PATH'] ?? '' } });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const { code, stdout = '', stderr = '' } = error as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof code === 'number' ? code : -1, stdout, stderr };
    }
  };

  before(() => {
    checkout = mkdtempSync(join(tmpdir(), 'herald-start-instance-'));
    mkdirSync(join(checkout, 'scripts'));
    copyFileSync(join(REPO_ROOT, 'package.json'), join(checkout, 'package.json'));
    copyFileSync(join(REPO_ROOT, 'scripts/start-instance.mjs'), join(checkout, 'scripts/start-instance.mjs'));
  });

  after(() => rmSync(checkout, { recursive: true, force: true }));

  it('without a build: a clear error naming the missing build and the command to make it, a non-zero exit, nothing built', async () => {
    const result = await startInstance();
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /no build \(dist\/apps\/gateway\/src\/main\.js is missing\)\. Build once with `npm run build`/);
    assert.throws(() => readFileSync(join(checkout, 'dist/apps/gateway/src/main.js')), /ENOENT/);
  });

  it('with a build: runs it as it is (the build is neither removed nor replaced)', async () => {
    const main = join(checkout, 'dist/apps/gateway/src/main.js');
    mkdirSync(join(checkout, 'dist/apps/gateway/src'), { recursive: true });
    // A stand-in for the gateway's entry point: proves which file ran, and that it is still the same file after.
    const marker = `build-${process.pid}-${Date.now()}`;
    writeFileSync(main, `console.log(${JSON.stringify(marker)});\n`);
    const result = await startInstance();
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), marker);
    assert.equal(readFileSync(main, 'utf8'), `console.log(${JSON.stringify(marker)});\n`);
  });
});
