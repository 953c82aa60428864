import { HeraldClient, type HeraldClientOptions, type InboxUpdate } from '@herald/client';
import type { NotificationEnvelope, SessionReadyPayload } from '@herald/contracts';
import { signToken } from './tokens.js';
import { waitUntil } from './wait.js';

/**
 * A device as an app builds one with the client SDK (@herald/client), recording what the app would see: the
 * notifications it shows, every badge value, the read-state updates and each session.ready.
 */
export class InboxDevice {
  readonly notifications: NotificationEnvelope[] = [];
  readonly badges: number[] = [];
  readonly updates: InboxUpdate[] = [];
  readonly readies: SessionReadyPayload[] = [];
  readonly errors: Error[] = [];

  private constructor(
    readonly name: string,
    readonly client: HeraldClient,
  ) {
    client.on('notification', (envelope) => this.notifications.push(envelope));
    client.on('unread', (unread) => this.badges.push(unread));
    client.on('updated', (update) => this.updates.push(update));
    client.on('ready', (ready) => this.readies.push(ready));
    client.on('error', (error) => this.errors.push(error));
  }

  /** Connects `user` to the gateway (or nginx) at `baseUrl` and waits for its first session.ready. */
  static async connect(baseUrl: string, user: string, options: Partial<HeraldClientOptions> & { name?: string } = {}): Promise<InboxDevice> {
    const token = await signToken({ sub: user });
    const { name, ...clientOptions } = options;
    const client = new HeraldClient({
      url: baseUrl,
      token,
      socket: { transports: ['websocket'], reconnectionDelay: 50, reconnectionDelayMax: 200 },
      ...clientOptions,
    });
    const device = new InboxDevice(name ?? user, client);
    await device.waitFor(() => device.readies.length > 0, 'its first session.ready');
    return device;
  }

  get unread(): number {
    return this.client.unread;
  }

  ids(): string[] {
    return this.notifications.map((envelope) => envelope.id);
  }

  async waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    await waitUntil(condition, `${this.name}: ${what}`, timeoutMs);
  }

  async waitForUnread(unread: number, what = `unread ${String(unread)}`): Promise<void> {
    await this.waitFor(() => this.client.unread === unread, `${what} (badge ${String(this.client.unread)})`);
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
