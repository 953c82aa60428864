/** Redis transport patterns (= Redis channel names). Publishers and the gateway import these, never literals. */
export const Patterns = {
  NotifyUser: 'notify.user',
  NotifyUsers: 'notify.users',
  NotifyBroadcast: 'notify.broadcast',
  PresenceQuery: 'presence.query',
} as const;

export type Pattern = (typeof Patterns)[keyof typeof Patterns];
export type NotifyPattern = typeof Patterns.NotifyUser | typeof Patterns.NotifyUsers | typeof Patterns.NotifyBroadcast;

export const NOTIFY_PATTERNS: readonly NotifyPattern[] = [Patterns.NotifyUser, Patterns.NotifyUsers, Patterns.NotifyBroadcast];
