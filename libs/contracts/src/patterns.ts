/** Redis transport patterns (= Redis channel names). Publishers and the gateway import these, never literals. */
export const Patterns = {
  NotifyUser: 'notify.user',
  NotifyUsers: 'notify.users',
  NotifyBroadcast: 'notify.broadcast',
  PresenceQuery: 'presence.query',
  /** Request/reply: where a notification stands for its user (stored, delivered, read). */
  NotificationStatus: 'notification.status',
} as const;

export type Pattern = (typeof Patterns)[keyof typeof Patterns];
export type NotifyPattern = typeof Patterns.NotifyUser | typeof Patterns.NotifyUsers | typeof Patterns.NotifyBroadcast;

export const NOTIFY_PATTERNS: readonly NotifyPattern[] = [Patterns.NotifyUser, Patterns.NotifyUsers, Patterns.NotifyBroadcast];

const PATTERN_NAMES: ReadonlySet<string> = new Set(Object.values(Patterns));
const NOTIFY_PATTERN_NAMES: ReadonlySet<string> = new Set(NOTIFY_PATTERNS);

/** Whether a name read off the wire (a stream field, a route message) is one of Herald's patterns. */
export const isPattern = (name: string): name is Pattern => PATTERN_NAMES.has(name);
export const isNotifyPattern = (name: string): name is NotifyPattern => NOTIFY_PATTERN_NAMES.has(name);
