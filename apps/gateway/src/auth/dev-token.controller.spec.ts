import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BadRequestException } from '@nestjs/common';
import { DEVELOPMENT_JWT_SECRET } from '@herald/contracts';
import { jwtVerify } from 'jose';
import type { PinoLogger } from 'nestjs-pino';
import { loadConfig } from '../config/app-config.js';
import { DevTokenController } from './dev-token.controller.js';

const logs: Array<[string, unknown]> = [];
const logger = { warn: (record: unknown) => logs.push(['warn', record]), info: (record: unknown) => logs.push(['info', record]) } as unknown as PinoLogger;

describe('DevTokenController', () => {
  const controller = new DevTokenController(loadConfig({ JWT_SECRET: DEVELOPMENT_JWT_SECRET, DEV_TOKEN_ENDPOINT: 'true' }), logger);

  it('signs a token for the user that the development secret verifies', async () => {
    const reply = await controller.issue({ user: 'demo', ttlSeconds: 120 });
    const { payload } = await jwtVerify(reply.token, new TextEncoder().encode(DEVELOPMENT_JWT_SECRET), { algorithms: ['HS256'] });
    assert.equal(payload.sub, 'demo');
    assert.equal(payload.exp, reply.exp);
    assert.ok(Math.abs(reply.exp - Date.now() / 1000 - 120) < 5);
  });

  it('refuses a bad body with the reason, and logs it', async () => {
    for (const body of [undefined, {}, { user: '' }, { user: 'x', ttlSeconds: 10 ** 9 }, { user: 'x', admin: true }]) {
      await assert.rejects(controller.issue(body), BadRequestException);
    }
    assert.ok(logs.filter(([level]) => level === 'warn').length >= 5);
  });

  it('cannot be built with any other key, whatever wires it', () => {
    assert.throws(() => new DevTokenController(loadConfig({ JWT_SECRET: 'a-real-secret-0123456789' }), logger), /only with the development secret/);
  });
});
