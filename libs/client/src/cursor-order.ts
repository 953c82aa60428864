import { parseCursor } from '@herald/contracts';

/**
 * Orders two positions of one feed: negative when `a` is older, positive when newer, 0 when equal; undefined when
 * they cannot be compared (different incarnations of the feed, or not cursors). Cursors stay opaque to apps: the SDK
 * ships with the server that issues them (`<epoch>.<seq>`, libs/contracts), so a UI sorts with this, not by parsing.
 */
export function compareCursors(a: string, b: string): number | undefined {
  const left = parseCursor(a);
  const right = parseCursor(b);
  if (left === undefined || right === undefined || left.epoch !== right.epoch) return undefined;
  return left.seq - right.seq;
}
