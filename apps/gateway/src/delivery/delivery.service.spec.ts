import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommandRejectReasons, Patterns, type NotificationEnvelope } from '@herald/contracts';
import { HeraldMetrics } from '@herald/metrics';
import type { PinoLogger } from 'nestjs-pino';
import { CommandValidatorService } from '../commands/command-validator.service.js';
import { loadConfig } from '../config/app-config.js';
import type { MetricsService } from '../metrics/metrics.service.js';
import type { NotifyGateway } from '../notify/notify.gateway.js';
import { MalformedCommand } from '../transport/command.deserializer.js';
import { DeliveryService } from './delivery.service.js';

/** A gateway holding sockets for some users, recording what it was asked to emit. */
class FakeGateway {
  readonly sent: Array<{ to: string | readonly string[] | 'all'; envelope: NotificationEnvelope }> = [];
  constructor(private readonly socketsByUser: Record<string, number>) {}
  get localConnections(): number {
    return Object.values(this.socketsByUser).reduce((sum, count) => sum + count, 0);
  }
  localSocketsOfUser(userId: string): number {
    return this.socketsByUser[userId] ?? 0;
  }
  localSocketsOfUsers(userIds: readonly string[]): number {
    return userIds.reduce((sum, userId) => sum + this.localSocketsOfUser(userId), 0);
  }
  sendToUser(userId: string, envelope: NotificationEnvelope): void {
    this.sent.push({ to: userId, envelope });
  }
  sendToUsers(userIds: readonly string[], envelope: NotificationEnvelope): void {
    this.sent.push({ to: userIds, envelope });
  }
  broadcast(envelope: NotificationEnvelope): void {
    this.sent.push({ to: 'all', envelope });
  }
}

function setup(socketsByUser: Record<string, number>) {
  const gateway = new FakeGateway(socketsByUser);
  const metrics = new HeraldMetrics({ instanceId: 'unit', defaultMetrics: false });
  const warnings: unknown[] = [];
  const logger = { warn: (fields: unknown) => warnings.push(fields) } as unknown as PinoLogger;
  const validator = new CommandValidatorService(loadConfig({ JWT_SECRET: 'unit-test-secret-0123456789', MAX_PAYLOAD_BYTES: '100' }));
  const delivery = new DeliveryService(validator, gateway as unknown as NotifyGateway, metrics as MetricsService, logger);
  const counter = async (name: string, labels: Record<string, string>): Promise<number> => {
    const metric = await metrics.registry.getSingleMetric(name)?.get();
    return metric?.values.find((value) => Object.entries(labels).every(([key, label]) => value.labels[key] === label))?.value ?? 0;
  };
  return { gateway, delivery, warnings, counter };
}

describe('DeliveryService', () => {
  it('emits one envelope to the local sockets of the user and reports how many it reached', () => {
    const { gateway, delivery } = setup({ ann: 2 });
    const outcome = delivery.handle(Patterns.NotifyUser, { userId: 'ann', type: 't', id: 'n1', sentAt: 0, data: { a: 1 } });
    assert.deepEqual(outcome, { delivered: true, sockets: 2 });
    assert.deepEqual(gateway.sent, [{ to: 'ann', envelope: { id: 'n1', type: 't', data: { a: 1 }, createdAt: '1970-01-01T00:00:00.000Z' } }]);
  });

  it('builds and emits nothing on an instance without the user, but still counts the command as received', async () => {
    const { gateway, delivery, counter } = setup({ ann: 1 });
    assert.deepEqual(delivery.handle(Patterns.NotifyUser, { userId: 'bob', data: 1 }), { delivered: true, sockets: 0 });
    assert.deepEqual(delivery.handle(Patterns.NotifyUsers, { userIds: ['bob', 'cy'], data: 1 }), { delivered: true, sockets: 0 });
    assert.deepEqual(gateway.sent, []);
    assert.equal(await counter('herald_commands_received_total', { pattern: Patterns.NotifyUser }), 1);
    assert.equal(await counter('herald_notifications_delivered_total', { pattern: Patterns.NotifyUser }), 0);
  });

  it('rejects, logs and counts a malformed command on every instance, with or without local sockets of its user', async () => {
    for (const socketsByUser of [{ ann: 1 }, {}] as Array<Record<string, number>>) {
      const { gateway, delivery, warnings, counter } = setup(socketsByUser);
      const bad = [
        { userId: 'ann' }, // no data
        { userId: 'ann', data: 'x'.repeat(200) }, // over MAX_PAYLOAD_BYTES
        new MalformedCommand(CommandRejectReasons.NotJson, 'message is not JSON'),
      ];
      assert.deepEqual(
        bad.map((raw) => delivery.handle(Patterns.NotifyUser, raw)),
        [
          { delivered: false, reason: CommandRejectReasons.InvalidShape },
          { delivered: false, reason: CommandRejectReasons.PayloadTooLarge },
          { delivered: false, reason: CommandRejectReasons.NotJson },
        ],
      );
      assert.equal(warnings.length, 3);
      assert.equal(await counter('herald_commands_rejected_total', { pattern: Patterns.NotifyUser, reason: CommandRejectReasons.InvalidShape }), 1);
      assert.deepEqual(gateway.sent, []);
    }
  });

  it('sends notify.users once to the users that have local sockets, and broadcasts only when this instance has sockets', () => {
    const { gateway, delivery } = setup({ ann: 1, bob: 1 });
    assert.deepEqual(delivery.handle(Patterns.NotifyUsers, { userIds: ['ann', 'zed', 'ann'], data: 1, id: 'm' }), { delivered: true, sockets: 1 });
    assert.deepEqual(delivery.handle(Patterns.NotifyBroadcast, { data: 2, id: 'b' }), { delivered: true, sockets: 2 });
    assert.deepEqual(
      gateway.sent.map(({ to, envelope }) => [to, envelope.id]),
      [
        [['ann', 'zed'], 'm'],
        ['all', 'b'],
      ],
    );
    const empty = setup({});
    assert.deepEqual(empty.delivery.handle(Patterns.NotifyBroadcast, { data: 2 }), { delivered: true, sockets: 0 });
    assert.deepEqual(empty.gateway.sent, []);
  });
});
