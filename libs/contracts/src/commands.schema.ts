import { z } from 'zod';

/** Limits shared by every command. */
export const MAX_USER_IDS = 1000;
export const MAX_ID_LENGTH = 200;
export const MAX_TYPE_LENGTH = 100;

const userId = z.string().min(1).max(MAX_ID_LENGTH);

/** Any JSON value. `undefined` is not JSON, so `data` must be present. */
const jsonValue: z.ZodType = z.unknown().refine((value) => value !== undefined, { message: 'data is required' });

/** Fields every notify command has. Unknown fields are stripped (zod's default), never rejected, so newer publishers can add fields. */
const notifyBase = {
  type: z.string().min(1).max(MAX_TYPE_LENGTH).default('notification'),
  data: jsonValue,
  id: z.string().min(1).max(MAX_ID_LENGTH).optional(),
  /** Epoch milliseconds at publish time; used for latency measurement only. */
  sentAt: z.number().nonnegative().max(8.64e15).optional(),
};

export const NotifyUserCommandSchema = z.object({ userId, ...notifyBase });
export const NotifyUsersCommandSchema = z.object({
  userIds: z
    .array(userId)
    .min(1)
    .max(MAX_USER_IDS)
    .transform((ids) => [...new Set(ids)]),
  ...notifyBase,
});
export const NotifyBroadcastCommandSchema = z.object(notifyBase);
export const PresenceQuerySchema = z.object({ userId });
export const NotificationStatusQuerySchema = z.object({ userId, id: z.string().min(1).max(MAX_ID_LENGTH) });

export type NotifyUserCommand = z.infer<typeof NotifyUserCommandSchema>;
export type NotifyUsersCommand = z.infer<typeof NotifyUsersCommandSchema>;
export type NotifyBroadcastCommand = z.infer<typeof NotifyBroadcastCommandSchema>;
export type PresenceQuery = z.infer<typeof PresenceQuerySchema>;
export type NotificationStatusQuery = z.infer<typeof NotificationStatusQuerySchema>;

/** What a publisher sends (before defaults are applied). */
export type NotifyUserInput = z.input<typeof NotifyUserCommandSchema>;
export type NotifyUsersInput = z.input<typeof NotifyUsersCommandSchema>;
export type NotifyBroadcastInput = z.input<typeof NotifyBroadcastCommandSchema>;

export const PresenceReplySchema = z.object({
  userId,
  online: z.boolean(),
  connections: z.number().int().nonnegative(),
});
export type PresenceReply = z.infer<typeof PresenceReplySchema>;

/**
 * Where one notification stands (`notification.status`). Unknown ids (never stored, or trimmed by retention) answer
 * `stored: false`. `delivered`: some device of the user acknowledged it (`inbox.ack`); `read`: the user marked it read.
 * Times are ISO 8601.
 */
export const NotificationStatusReplySchema = z.object({
  id: z.string(),
  userId,
  stored: z.boolean(),
  cursor: z.string().optional(),
  storedAt: z.iso.datetime().optional(),
  delivered: z.boolean(),
  deliveredAt: z.iso.datetime().optional(),
  read: z.boolean(),
  readAt: z.iso.datetime().optional(),
});
export type NotificationStatusReply = z.infer<typeof NotificationStatusReplySchema>;

/** The single event payload clients receive. */
export const NotificationEnvelopeSchema = z.object({
  id: z.string(),
  type: z.string(),
  data: z.unknown(),
  createdAt: z.iso.datetime(),
  /** Opaque position of this notification in its feed: what the client sends back as `since` (or `broadcastSince`). */
  cursor: z.string(),
  /** Present on broadcasts only: their cursor belongs to the broadcast feed. */
  feed: z.literal('broadcast').optional(),
});
export type NotificationEnvelope = z.infer<typeof NotificationEnvelopeSchema>;

/** Reasons a command is rejected; they are also metric label values, so the set is closed. */
export const CommandRejectReasons = {
  NotJson: 'not_json',
  NotAnEnvelope: 'not_an_envelope',
  InvalidShape: 'invalid_shape',
  PayloadTooLarge: 'payload_too_large',
} as const;
export type CommandRejectReason = (typeof CommandRejectReasons)[keyof typeof CommandRejectReasons];
