import { createHash } from 'node:crypto';
import type { NotificationEnvelope, NotifyPattern } from '@herald/contracts';

/**
 * A command without `id` gets a name-based UUID (RFC 9562 v5 layout over SHA-1) of its pattern and raw data.
 * Every instance receives the same bytes, so every instance derives the same id with no Redis round trip.
 * Publishing byte-identical commands twice yields the same id twice; publishers that need distinct ids
 * for identical content set `id` (the SDK always does) or `sentAt`.
 */
export function deriveNotificationId(pattern: NotifyPattern, rawData: unknown): string {
  const hash = createHash('sha1').update(pattern).update('\n').update(jsonText(rawData)).digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export interface EnvelopeSource {
  id?: string;
  type: string;
  data: unknown;
  sentAt?: number;
}

// Under load many commands carry the same millisecond (publishers stamp Date.now()): format each millisecond once.
let lastMs = Number.NaN;
let lastIso = '';
function isoTime(ms: number): string {
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastIso;
}

/** An envelope before it is stored: only the store gives it its cursor. */
export type UnstoredEnvelope = Omit<NotificationEnvelope, 'cursor'>;

/** `createdAt` is the publisher's `sentAt` when given (identical on every instance), else this instance's receipt time. */
export function buildEnvelope(pattern: NotifyPattern, command: EnvelopeSource, rawData: unknown, receivedAt: number): UnstoredEnvelope {
  return {
    id: command.id ?? deriveNotificationId(pattern, rawData),
    type: command.type,
    data: command.data,
    createdAt: isoTime(command.sentAt ?? receivedAt),
  };
}

/** The envelope as JSON without its closing brace: the store script appends `,"cursor":"…"}`. */
export function envelopePrefix(envelope: UnstoredEnvelope): string {
  return JSON.stringify(envelope).slice(0, -1);
}

/** JSON.stringify gives undefined for what JSON cannot represent, whatever its declared type says. */
export function jsonText(value: unknown): string {
  return stringify(value) ?? '';
}
const stringify: (value: unknown) => string | undefined = JSON.stringify;
