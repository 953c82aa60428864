import { Logger } from '@nestjs/common';
import calculateSlot from 'cluster-key-slot';
import type { Redis } from 'ioredis';
import { createRedisClient, onConnectionChange, whenReady } from './redis-connection.js';

export type RouteListener = (channel: string, message: string) => void;
export type RouterConnectionListener = (connected: boolean) => void;

interface ChannelState {
  /** Local holders (sockets) that want this channel. */
  refs: number;
  /** Whether an SSUBSCRIBE has been sent and no SUNSUBSCRIBE since. */
  subscribed: boolean;
  /** Resolved once the server confirmed the subscription; whoever joined meanwhile waits on it. */
  active?: Promise<void>;
  confirm?: () => void;
}

/**
 * Sharded pub/sub subscriptions (SSUBSCRIBE), one per channel, held while at least one local holder wants the channel:
 * the first `join` subscribes, the last `leave` unsubscribes. Changes made in the same tick go out as one SSUBSCRIBE /
 * SUNSUBSCRIBE per hash slot (a Redis Cluster requires one slot per call; standalone Redis takes it as well).
 *
 * After a reconnection it subscribes everything again itself (ioredis' auto-resubscribe is off, so the moment the
 * subscriptions are back is known) and then tells `onResubscribed` listeners: whatever was published while the
 * connection was down never reached this instance, and they catch up from storage.
 */
export class ShardedRouter {
  private readonly log = new Logger(ShardedRouter.name);
  private readonly client: Redis;
  private readonly channels = new Map<string, ChannelState>();
  private readonly listeners: RouteListener[] = [];
  /** Channels whose messages go to one listener of their own instead of the route listeners (the canary). */
  private readonly channelListeners = new Map<string, (message: string) => void>();
  private readonly resubscribedListeners: Array<() => void> = [];
  private readonly connectionListeners: RouterConnectionListener[] = [];
  private pendingSubscribe = new Set<string>();
  private pendingUnsubscribe = new Set<string>();
  private flushScheduled = false;
  private everReady = false;
  private connected = false;
  private closing = false;

  constructor(url: string) {
    this.client = createRedisClient(url, { autoResubscribe: false });
    this.client.on('smessage', (channel: string, message: string) => {
      const own = this.channelListeners.get(channel);
      if (own !== undefined) own(message);
      else for (const listener of this.listeners) listener(channel, message);
    });
    this.client.on('error', (error: Error) => {
      if (this.connected) this.log.error(`redis route subscriber error: ${error.message}`);
    });
    this.client.on('ready', () => this.onReady());
    onConnectionChange(this.client, (connected) => this.setConnected(connected));
  }

  /** Resolves once connected; retries in the background however long that takes. */
  async connect(): Promise<void> {
    await whenReady(this.client);
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** How many channels are subscribed (or about to be). */
  get size(): number {
    return this.channels.size;
  }

  onMessage(listener: RouteListener): void {
    this.listeners.push(listener);
  }

  /**
   * Messages on `channel` go to `listener` alone, not to the route listeners. Subscribe with `join` as for any channel:
   * a probe on its own channel then travels exactly the way every route message does.
   */
  onChannel(channel: string, listener: (message: string) => void): void {
    this.channelListeners.set(channel, listener);
  }

  /**
   * Drops the connection and opens a new one, which subscribes everything again and tells `onResubscribed` listeners
   * (who catch up from storage): for a connection that looks up but receives nothing (a half-open TCP path, a proxy
   * that stopped forwarding). Does nothing while not connected: reconnecting is under way already.
   */
  reconnect(): void {
    if (!this.connected || this.closing) return;
    this.log.warn('redis route subscriber: reconnecting a connection that receives nothing');
    this.client.disconnect(true);
  }

  onResubscribed(listener: () => void): void {
    this.resubscribedListeners.push(listener);
  }

  onConnectionChange(listener: RouterConnectionListener): void {
    this.connectionListeners.push(listener);
  }

  /** One more holder of `channel`; resolves once Redis confirmed the subscription (at once if it already had). */
  join(channel: string): Promise<void> {
    let state = this.channels.get(channel);
    if (state === undefined) {
      state = { refs: 0, subscribed: false };
      this.channels.set(channel, state);
    }
    state.refs++;
    if (state.refs === 1) {
      this.pendingUnsubscribe.delete(channel);
      if (!state.subscribed) {
        this.pendingSubscribe.add(channel);
        const pending = state;
        state.active = new Promise<void>((resolve) => (pending.confirm = resolve));
        this.scheduleFlush();
      }
    }
    return state.active ?? Promise.resolve();
  }

  /** One holder fewer; the last one unsubscribes. */
  leave(channel: string): void {
    const state = this.channels.get(channel);
    if (state === undefined || state.refs === 0) return;
    state.refs--;
    if (state.refs > 0) return;
    if (this.pendingSubscribe.delete(channel)) {
      // Never sent: nothing to undo on the server. Whoever waited has left.
      this.channels.delete(channel);
      confirmed(state);
      return;
    }
    this.pendingUnsubscribe.add(channel);
    this.scheduleFlush();
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.client.status === 'ready') await this.client.quit();
    else this.client.disconnect();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const unsubscribe = [...this.pendingUnsubscribe];
    const subscribe = [...this.pendingSubscribe];
    this.pendingUnsubscribe = new Set();
    this.pendingSubscribe = new Set();
    for (const [slot, channels] of bySlot(unsubscribe)) {
      for (const channel of channels) {
        const state = this.channels.get(channel);
        if (state !== undefined && state.refs === 0) this.channels.delete(channel);
      }
      this.client.sunsubscribe(...channels).catch((error: unknown) => this.log.warn(`SUNSUBSCRIBE (slot ${slot}) failed: ${String(error)}`));
    }
    if (this.connected) this.subscribe(subscribe);
    // Not connected: onReady subscribes every wanted channel, these included.
  }

  private subscribe(channels: readonly string[]): void {
    for (const [, group] of bySlot(channels)) {
      // The states as they are now: a channel left and joined again later has a new state and a new SSUBSCRIBE.
      const states = group.flatMap((channel) => {
        const state = this.channels.get(channel);
        return state === undefined ? [] : [state];
      });
      for (const state of states) state.subscribed = true;
      this.client.ssubscribe(...group).then(
        () => states.forEach(confirmed),
        (error: unknown) => {
          // The connection broke mid-command: onReady subscribes them again and confirms them then.
          for (const state of states) state.subscribed = false;
          if (!this.closing) this.log.warn(`SSUBSCRIBE failed, retried on reconnect: ${String(error)}`);
        },
      );
    }
  }

  private onReady(): void {
    const reconnected = this.everReady;
    this.everReady = true;
    this.setConnected(true);
    const wanted = [...this.channels].filter(([, state]) => state.refs > 0).map(([channel]) => channel);
    for (const channel of wanted) this.pendingSubscribe.delete(channel);
    this.subscribe(wanted);
    if (!reconnected) return;
    this.log.log(`redis route subscriber reconnected: ${wanted.length} channel(s) subscribed again`);
    // Every SSUBSCRIBE above is answered before anything sent after it on this connection: a PING marks that point.
    this.client
      .ping()
      .then(() => {
        for (const listener of this.resubscribedListeners) listener();
      })
      .catch(() => undefined);
  }

  private setConnected(connected: boolean): void {
    if (this.connected === connected) return;
    this.connected = connected;
    if (!connected) for (const state of this.channels.values()) state.subscribed = false;
    if (!connected && !this.closing) this.log.warn('redis route subscriber connection lost, reconnecting');
    for (const listener of this.connectionListeners) listener(connected);
  }
}

function confirmed(state: ChannelState): void {
  state.confirm?.();
  state.active = undefined;
  state.confirm = undefined;
}

function bySlot(channels: readonly string[]): Map<number, string[]> {
  const groups = new Map<number, string[]>();
  for (const channel of channels) {
    const slot = calculateSlot(channel);
    const group = groups.get(slot);
    if (group === undefined) groups.set(slot, [channel]);
    else group.push(channel);
  }
  return groups;
}
