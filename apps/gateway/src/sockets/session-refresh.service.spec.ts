import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RequestErrorCodes, SessionRefreshOutcomes } from '@herald/contracts';
import { HeraldMetrics } from '@herald/metrics';
import { SignJWT } from 'jose';
import type { PinoLogger } from 'nestjs-pino';
import { TokenVerifierService } from '../auth/token-verifier.service.js';
import { loadConfig } from '../config/app-config.js';
import { RequestFailure } from './client-request.decorator.js';
import { SessionExpiryService } from './session-expiry.service.js';
import { SessionRefreshService } from './session-refresh.service.js';
import type { NotificationSocket } from './socket.types.js';

const SECRET = 'unit-test-secret-0123456789abcdef';
const now = (): number => Math.floor(Date.now() / 1000);
const sign = (sub: string, exp: number, secret = SECRET): Promise<string> =>
  new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime(exp).sign(new TextEncoder().encode(secret));

function setup(): { service: SessionRefreshService; expiries: SessionExpiryService; metrics: HeraldMetrics; logged: unknown[] } {
  const logged: unknown[] = [];
  const logger = { debug: (entry: unknown) => logged.push(entry), info: () => undefined, error: () => undefined } as unknown as PinoLogger;
  const metrics = new HeraldMetrics({ instanceId: 'unit', defaultMetrics: false });
  const expiries = new SessionExpiryService(logger);
  const service = new SessionRefreshService(new TokenVerifierService(loadConfig({ JWT_SECRET: SECRET })), expiries, metrics, logger);
  return { service, expiries, metrics, logged };
}

/** The parts of a socket the service reads: who, until when, still there. */
const socketOf = (userId: string, tokenExp: number): NotificationSocket =>
  ({ id: `socket-of-${userId}`, connected: true, data: { userId, tokenExp } }) as unknown as NotificationSocket;

/** The RequestFailure a refusal throws (the dispatcher answers it as `{ error: { code, message } }`). */
async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof RequestFailure, String(error));
    return { code: error.code, message: error.message };
  }
  assert.fail('the refresh was accepted');
}

async function outcomes(metrics: HeraldMetrics): Promise<Record<string, number>> {
  const values = (await metrics.registry.getSingleMetric('herald_session_refreshes_total')?.get())?.values ?? [];
  return Object.fromEntries(values.filter((value) => value.value > 0).map((value) => [String(value.labels['outcome']), value.value]));
}

describe('SessionRefreshService', () => {
  it('a valid token for the same sub moves the expiry: the socket is rescheduled at the new exp', async () => {
    const { service, expiries, metrics } = setup();
    const socket = socketOf('u1', now() + 60);
    expiries.schedule(socket);
    const exp = now() + 3600;
    assert.deepEqual(await service.refresh(socket, { token: await sign('u1', exp) }), { exp });
    assert.equal(socket.data.tokenExp, exp);
    // Rescheduled, not scheduled twice: cancelling by the new exp empties the scheduler.
    expiries.cancel(socket);
    assert.equal(expiries.size, 0);
    assert.deepEqual(await outcomes(metrics), { refreshed: 1 });
  });

  it('another sub, a bad signature, an expired or unreadable token: refused as invalid_token, counted by outcome; the expiry is unchanged', async () => {
    const { service, expiries, metrics, logged } = setup();
    const original = now() + 60;
    const socket = socketOf('u1', original);
    expiries.schedule(socket);
    const cases: Array<[string, string]> = [
      [await sign('u2', now() + 3600), 'invalid_token: the token is for another user'],
      [await sign('u1', now() + 3600, 'another-secret-0123456789abcdef'), 'invalid_token: the token is not valid here'],
      [await sign('u1', now() - 5), 'expired_token: the token has expired'],
      ['not.a.jwt', 'invalid_token: the token is not valid here'],
    ];
    for (const [token, message] of cases) {
      assert.deepEqual(await failure(service.refresh(socket, { token })), { code: RequestErrorCodes.InvalidToken, message });
      assert.equal(socket.data.tokenExp, original);
    }
    expiries.cancel(socket);
    assert.equal(expiries.size, 0, 'still scheduled at the original exp, once');
    assert.deepEqual(await outcomes(metrics), { other_user: 1, invalid_token: 2, expired_token: 1 });
    assert.equal(logged.length, cases.length, 'each refusal logged with its detail');
  });

  it('a socket that disconnected while its token was verified is not scheduled again', async () => {
    const { service, expiries, metrics } = setup();
    const socket = socketOf('u1', now() + 60);
    Reflect.set(socket, 'connected', false);
    assert.equal((await failure(service.refresh(socket, { token: await sign('u1', now() + 3600) }))).message, 'the session has ended');
    assert.equal(expiries.size, 0);
    assert.deepEqual(await outcomes(metrics), { [SessionRefreshOutcomes.Closed]: 1 });
  });
});
