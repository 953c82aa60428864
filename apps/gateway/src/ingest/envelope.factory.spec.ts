import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NotificationEnvelopeSchema, Patterns } from '@herald/contracts';
import { buildEnvelope, deriveNotificationId } from './envelope.factory.js';

describe('deriveNotificationId', () => {
  it('is a version-5 RFC 9562 UUID', () => {
    assert.match(deriveNotificationId(Patterns.NotifyUser, { userId: 'a', data: 1 }), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
  it('is the same for the same command (every instance agrees) and differs when anything differs', () => {
    const raw = { userId: 'a', data: { x: 1 }, sentAt: 1 };
    assert.equal(deriveNotificationId(Patterns.NotifyUser, raw), deriveNotificationId(Patterns.NotifyUser, structuredClone(raw)));
    assert.notEqual(deriveNotificationId(Patterns.NotifyUser, raw), deriveNotificationId(Patterns.NotifyUser, { ...raw, sentAt: 2 }));
    assert.notEqual(deriveNotificationId(Patterns.NotifyUser, raw), deriveNotificationId(Patterns.NotifyBroadcast, raw));
  });
});

describe('buildEnvelope', () => {
  it('keeps a given id and takes createdAt from sentAt', () => {
    const envelope = buildEnvelope(Patterns.NotifyUser, { id: 'n1', type: 't', data: [1], sentAt: 0 }, {}, 123);
    assert.deepEqual(envelope, { id: 'n1', type: 't', data: [1], createdAt: '1970-01-01T00:00:00.000Z' });
    assert.equal(NotificationEnvelopeSchema.safeParse({ ...envelope, cursor: 'e.1' }).success, true, 'with the cursor the store adds, a valid envelope');
  });
  it('formats createdAt per millisecond, also when consecutive commands share or alternate milliseconds', () => {
    const times = [0, 0, 1, 0, 1_700_000_000_123, 1_700_000_000_123, 1];
    const created = times.map((sentAt) => buildEnvelope(Patterns.NotifyUser, { id: 'n', type: 't', data: 1, sentAt }, {}, 5).createdAt);
    assert.deepEqual(
      created,
      times.map((ms) => new Date(ms).toISOString()),
    );
  });
  it('derives the id from the raw command and uses the receipt time without sentAt', () => {
    const raw = { userId: 'u', data: null };
    const envelope = buildEnvelope(Patterns.NotifyUser, { type: 'notification', data: null }, raw, Date.UTC(2026, 10, 21));
    assert.equal(envelope.id, deriveNotificationId(Patterns.NotifyUser, raw));
    assert.equal(envelope.createdAt, '2026-11-21T00:00:00.000Z');
  });
});
