/**
 * The Redis scripts of the inbox. Each touches the keys of one feed only (one hash tag, so one Cluster slot).
 *
 * APPEND stores a notification once and routes it, atomically: nothing is published that is not stored, and a
 * retried id is neither stored nor published twice.
 *   KEYS: meta, log, ids
 *   ARGV: id, envelope JSON without its closing brace, route channel, max length, max age (ms), meta TTL (ms),
 *         epoch for a new feed, pattern, createdAt (ms)
 *   returns { stored (1 or 0 for a duplicate), epoch, seq }
 *
 * - A feed without meta is new (or was lost, or expired): it gets a new epoch and starts again at seq 1, and any log or
 *   ids left behind are dropped, so a cursor of the old feed can never point into the new one.
 * - The stream entry id is `<seq>-0`: resuming after a cursor is `XRANGE log (<seq>-0 +`, and a gap is visible.
 * - Trimming by length and by age (entry field `t`, Redis' own clock) removes the trimmed ids from the dedupe hash too:
 *   an id is deduplicated exactly as long as its notification is retained.
 * - SPUBLISH on the feed's own shard channel, which is in the same slot.
 */
export const APPEND_SCRIPT = `
local meta, log, ids = KEYS[1], KEYS[2], KEYS[3]
local id = ARGV[1]
local epoch = redis.call('HGET', meta, 'e')
if not epoch then
  epoch = ARGV[7]
  redis.call('DEL', log, ids)
  redis.call('HSET', meta, 'e', epoch, 's', 0)
end
local existing = redis.call('HGET', ids, id)
if existing then
  return {0, epoch, tonumber(existing)}
end
-- Redis does not undo a script's writes when a later command fails: the XADD (which fails on a key of another type)
-- is the first write, and the sequence moves only once it succeeded.
local seq = tonumber(redis.call('HGET', meta, 's') or '0') + 1
local cursor = epoch .. '.' .. seq
local envelope = ARGV[2] .. ',"cursor":"' .. cursor .. '"}'
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('XADD', log, seq .. '-0', 'n', envelope, 'i', id, 't', now)
redis.call('HSET', meta, 's', seq)
redis.call('HSET', ids, id, seq)

local excess = redis.call('XLEN', log) - tonumber(ARGV[4])
local cutoff = now - tonumber(ARGV[5])
local after = '-'
local last = nil
local dropped = {}
for _ = 1, 100 do
  local first = redis.call('XRANGE', log, after, '+', 'COUNT', 1)[1]
  if not first then break end
  local fields = first[2]
  if excess <= 0 and tonumber(fields[6]) >= cutoff then break end
  dropped[#dropped + 1] = fields[4]
  last = first[1]
  after = '(' .. last
  excess = excess - 1
end
if last then
  -- MINID keeps ids >= the threshold: <seq>-1 drops <seq>-0 and everything before it.
  redis.call('XTRIM', log, 'MINID', string.match(last, '^(%d+)') .. '-1')
  redis.call('HDEL', ids, unpack(dropped))
end

redis.call('PEXPIRE', log, ARGV[5])
redis.call('PEXPIRE', ids, ARGV[5])
redis.call('PEXPIRE', meta, ARGV[6])
redis.call('SPUBLISH', ARGV[3], cursor .. ' ' .. ARGV[8] .. ' ' .. ARGV[9] .. ' ' .. envelope)
return {1, epoch, seq}
`;

/**
 * READ returns, in one consistent view, the feed's epoch and head and up to COUNT entries after a sequence number,
 * plus the first retained entry (to tell a trimmed gap from a feed that never had those entries).
 *   KEYS: meta, log
 *   ARGV: after seq (0 = from the start), count (0 = only epoch, head and first)
 *   returns { epoch or false, head seq, entries, first retained entry id or false }
 */
export const READ_SCRIPT = `
local m = redis.call('HMGET', KEYS[1], 'e', 's')
if not m[1] then return {false, 0, {}, false} end
local start = '-'
if tonumber(ARGV[1]) > 0 then start = '(' .. ARGV[1] .. '-0' end
local entries = {}
if tonumber(ARGV[2]) > 0 then entries = redis.call('XRANGE', KEYS[2], start, '+', 'COUNT', ARGV[2]) end
local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
local firstId = false
if first then firstId = first[1] end
return {m[1], tonumber(m[2]), entries, firstId}
`;
