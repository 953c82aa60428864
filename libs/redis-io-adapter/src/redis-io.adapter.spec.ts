import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it, mock } from 'node:test';
import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { of } from 'rxjs';
import type { Socket } from 'socket.io';
import { RedisIoAdapter } from './redis-io.adapter.js';

// The adapter only touches the app for the HTTP server, which these tests never start.
const adapter = new RedisIoAdapter(undefined as unknown as INestApplicationContext, { url: 'redis://127.0.0.1:1' });
const fakeSocket = (): Socket => new EventEmitter() as unknown as Socket;

describe('RedisIoAdapter per-socket bindings', () => {
  it('builds nothing per socket for a gateway without message handlers, and delegates to Nest when there are some', () => {
    const nest = mock.method(IoAdapter.prototype, 'bindMessageHandlers');
    try {
      adapter.bindMessageHandlers(fakeSocket(), [], () => of(undefined));
      assert.equal(nest.mock.callCount(), 0, "no handlers: Nest's per-socket RxJS streams are skipped");

      const socket = fakeSocket();
      const received: unknown[] = [];
      const handlers = [{ message: 'ping', methodName: 'ping', callback: async (data: unknown) => received.push(data), isAckHandledManually: false }];
      adapter.bindMessageHandlers(socket, handlers, (value) => of(value));
      assert.equal(nest.mock.callCount(), 1);
      socket.emit('ping', { n: 1 });
      assert.deepEqual(received, [{ n: 1 }], 'handlers still work');
    } finally {
      nest.mock.restore();
    }
  });

  it('hands the disconnect reason to the callback, with no wrapper of its own', () => {
    const socket = fakeSocket();
    const reasons: string[] = [];
    const callback = (reason: string) => reasons.push(reason);
    adapter.bindClientDisconnect(socket, callback);
    socket.emit('disconnect', 'transport close');
    assert.deepEqual(reasons, ['transport close']);
    assert.deepEqual(socket.listeners('disconnect'), [callback], 'the callback itself is the listener');
  });

  it("binds nothing for Nest's disconnect hook when told the gateway listens itself", () => {
    const own = new RedisIoAdapter(undefined as unknown as INestApplicationContext, { url: 'redis://127.0.0.1:1', gatewayDisconnectHook: false });
    const socket = fakeSocket();
    own.bindClientDisconnect(socket, () => undefined);
    assert.equal(socket.listenerCount('disconnect'), 0);
  });
});
