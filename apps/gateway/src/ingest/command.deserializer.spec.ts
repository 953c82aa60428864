import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommandRejectReasons, Patterns } from '@herald/contracts';
import { CommandDeserializer, MalformedCommand } from './command.deserializer.js';

const deserializer = new CommandDeserializer();
const channel = { channel: Patterns.NotifyUser };

describe('CommandDeserializer', () => {
  it('routes by channel and unwraps data, keeping a request id', () => {
    assert.deepEqual(deserializer.deserialize({ pattern: Patterns.NotifyBroadcast, data: { a: 1 } }, channel), { pattern: Patterns.NotifyUser, data: { a: 1 } });
    assert.deepEqual(deserializer.deserialize({ pattern: Patterns.PresenceQuery, data: 1, id: 'r1' }, { channel: Patterns.PresenceQuery }), {
      pattern: Patterns.PresenceQuery,
      data: 1,
      id: 'r1',
    });
  });

  it('turns text that is not JSON into not_json', () => {
    const { data } = deserializer.deserialize('{oops', channel) as { data: unknown };
    assert.ok(data instanceof MalformedCommand && data.reason === CommandRejectReasons.NotJson);
  });

  it('turns JSON without an envelope into not_an_envelope', () => {
    for (const value of [null, 42, [1], { pattern: Patterns.NotifyUser }]) {
      const { data } = deserializer.deserialize(value, channel) as { data: unknown };
      assert.ok(data instanceof MalformedCommand && data.reason === CommandRejectReasons.NotAnEnvelope, JSON.stringify(value));
    }
  });
});
