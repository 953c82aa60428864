import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { findBinary } from '@herald/edge-config';
import { parse } from 'yaml';

const run = promisify(execFile);

export interface ComposeService {
  image?: string;
  build?: unknown;
  environment?: Record<string, string | number | null>;
  ports?: Array<string | { target: number; published: number | string }>;
  volumes?: Array<string | { type: string; source: string; target: string }>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] | string };
  networks?: Record<string, { ipv4_address?: string; aliases?: string[] } | null>;
}

export interface ComposeModel {
  services: Record<string, ComposeService>;
}

export interface ComposeCheck {
  ok: boolean;
  output: string;
}

/**
 * `docker-compose config` (Debian's engine-free Compose v1): validates a compose file against the Compose schema,
 * interpolates `${VAR:-default}` and prints the normalised model. Needs no Docker engine.
 */
export async function composeConfig(file: string, env: Record<string, string> = {}): Promise<ComposeCheck & { model?: ComposeModel }> {
  const binary = findBinary('docker-compose');
  if (!binary) throw new Error('docker-compose is not installed: run `bash scripts/system-deps.sh` (Debian package docker-compose)');
  // A clean environment: a developer's own NGINX_IMAGE (say) must not change what the test sees.
  const baseEnv = { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp' };
  try {
    const { stdout, stderr } = await run(binary, ['-f', file, 'config'], { env: { ...baseEnv, ...env }, timeout: 60_000 });
    return { ok: true, output: `${stdout}${stderr}`, model: parse(stdout) as ComposeModel };
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${stdout}${stderr}` };
  }
}
