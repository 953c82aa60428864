import { READ_STATE_ROUTE_MARK } from '@herald/contracts';

/**
 * The Redis scripts of the inbox. Each touches the keys of one feed only (one hash tag, so one Cluster slot).
 *
 * APPEND stores a notification once and routes it, atomically: nothing is published that is not stored, and a
 * retried id is neither stored nor published twice.
 *   KEYS: meta, log, ids, reads, readat, rmarks, dmarks
 *   ARGV: id, envelope JSON without its closing brace, route channel, max length, max age (ms), meta TTL (ms),
 *         epoch for a new feed, pattern, createdAt (ms)
 *   returns { stored (1 or 0 for a duplicate), epoch, seq }
 *
 * - A feed without meta is new (or was lost, or expired): it gets a new epoch and starts again at seq 1, and any log or
 *   ids left behind are dropped, so a cursor of the old feed can never point into the new one.
 * - The stream entry id is `<seq>-0`: resuming after a cursor is `XRANGE log (<seq>-0 +`, and a gap is visible.
 * - Trimming by length and by age (entry field `t`, Redis' own clock) removes the trimmed ids from the dedupe hash too:
 *   an id is deduplicated exactly as long as its notification is retained.
 *   Trimming also forgets the read and delivery state of what it drops; when it drops unread notifications, the
 *   unread count changes by more than the append's +1, so a read-state message follows the notification.
 * - SPUBLISH on the feed's own shard channel, which is in the same slot.
 */
/**
 * Lua shared by the scripts that report the read state. The unread count is the retained notifications above the
 * read-up-to mark (`r`) minus those marked read one by one (the `reads` set holds only seqs above `r` that are retained),
 * so it is exact at any size and costs O(1): no script walks the inbox.
 */
const READ_STATE_LUA = `
local function readState(meta, log, reads, epoch, head)
  local r = tonumber(redis.call('HGET', meta, 'r') or '0')
  local readUpTo = false
  if r > 0 then readUpTo = epoch .. '.' .. r end
  local first = redis.call('XRANGE', log, '-', '+', 'COUNT', 1)[1]
  if not first then return 0, readUpTo end
  local base = math.max(r, tonumber(string.match(first[1], '^(%d+)')) - 1)
  if base >= head then return 0, readUpTo end
  return head - base - redis.call('ZCARD', reads), readUpTo
end
local function stateJson(unread, readUpTo, ids)
  local json = '{"unread":' .. unread .. ',"readUpTo":'
  if readUpTo then json = json .. '"' .. readUpTo .. '"' else json = json .. 'null' end
  if ids then json = json .. ',"ids":' .. cjson.encode(ids) end
  return json .. '}'
end
-- A read-state route message (RouteMessage in libs/contracts): valid at the feed's head cursor.
local function publishReadState(channel, headCursor, version, unread, readUpTo, ids)
  redis.call('SPUBLISH', channel, headCursor .. ' ${READ_STATE_ROUTE_MARK} ' .. version .. ' ' .. stateJson(unread, readUpTo, ids))
end
local function nowMs()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
`;

export const APPEND_SCRIPT = `${READ_STATE_LUA}
local meta, log, ids, reads, readat, rmarks, dmarks = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local id = ARGV[1]
local m = redis.call('HMGET', meta, 'e', 's', 'o')
local epoch, head, oldest = m[1], m[2], m[3]
if not epoch then
  epoch = ARGV[7]
  redis.call('DEL', meta, log, ids, reads, readat, rmarks, dmarks)
  redis.call('HSET', meta, 'e', epoch, 's', 0)
  head, oldest = '0', false
end
local existing = redis.call('HGET', ids, id)
if existing then
  return {0, epoch, tonumber(existing)}
end
-- Redis does not undo a script's writes when a later command fails: the XADD (which fails on a key of another type)
-- is the first write, and the sequence moves only once it succeeded.
local seq = tonumber(head or '0') + 1
local cursor = epoch .. '.' .. seq
local envelope = ARGV[2] .. ',"cursor":"' .. cursor .. '"}'
local now = nowMs()
redis.call('XADD', log, seq .. '-0', 'n', envelope, 'i', id, 't', now)
redis.call('HSET', meta, 's', seq)
redis.call('HSET', ids, id, seq)

-- The time of the oldest retained entry is kept in meta ('o'), so an append with nothing to trim reads no entry.
-- Unknown when meta predates it: then the first entry is read, as when something is to be trimmed.
local length = redis.call('XLEN', log)
local oldestAt, oldestMoved = nil, false
if length == 1 then oldestAt, oldestMoved = now, true elseif oldest then oldestAt = tonumber(oldest) end
local excess = length - tonumber(ARGV[4])
local cutoff = now - tonumber(ARGV[5])
local last = nil
local dropped = {}
local seqs = {}
if excess > 0 or not oldestAt or oldestAt < cutoff then
  oldestAt, oldestMoved = nil, true
  local after = '-'
  for _ = 1, 100 do
    local first = redis.call('XRANGE', log, after, '+', 'COUNT', 1)[1]
    if not first then break end
    local fields = first[2]
    if excess <= 0 and tonumber(fields[6]) >= cutoff then
      oldestAt = tonumber(fields[6])
      break
    end
    dropped[#dropped + 1] = fields[4]
    last = first[1]
    seqs[#seqs + 1] = string.match(last, '^(%d+)')
    after = '(' .. last
    excess = excess - 1
  end
end
if oldestMoved then
  -- Unknown when more was to be trimmed than one append trims: the next append looks again.
  if oldestAt then redis.call('HSET', meta, 'o', oldestAt) else redis.call('HDEL', meta, 'o') end
end
local unreadDropped = 0
if last then
  local lastSeq = seqs[#seqs]
  -- MINID keeps ids >= the threshold: <seq>-1 drops <seq>-0 and everything before it.
  redis.call('XTRIM', log, 'MINID', lastSeq .. '-1')
  redis.call('HDEL', ids, unpack(dropped))
  local readUpTo = tonumber(redis.call('HGET', meta, 'r') or '0')
  for _, s in ipairs(seqs) do
    if tonumber(s) > readUpTo and not redis.call('ZSCORE', reads, s) then unreadDropped = unreadDropped + 1 end
  end
  redis.call('ZREMRANGEBYSCORE', reads, '-inf', lastSeq)
  redis.call('HDEL', readat, unpack(seqs))
  redis.call('ZREMRANGEBYSCORE', rmarks, '-inf', lastSeq)
  redis.call('ZREMRANGEBYSCORE', dmarks, '-inf', lastSeq)
end

redis.call('PEXPIRE', log, ARGV[5])
redis.call('PEXPIRE', ids, ARGV[5])
redis.call('PEXPIRE', meta, ARGV[6])
redis.call('SPUBLISH', ARGV[3], cursor .. ' ' .. ARGV[8] .. ' ' .. ARGV[9] .. ' ' .. envelope)
if unreadDropped > 0 then
  local version = redis.call('HINCRBY', meta, 'v', 1)
  local unread, readUpTo = readState(meta, log, reads, epoch, seq)
  publishReadState(ARGV[3], cursor, version, unread, readUpTo, nil)
end
return {1, epoch, seq}
`;

/**
 * READ returns, in one consistent view, the feed's epoch and head and up to COUNT entries after a sequence number,
 * the first retained entry (to tell a trimmed gap from a feed that never had those entries), and the read state.
 *   KEYS: meta, log, reads
 *   ARGV: after seq (0 = from the start), count (0 = only epoch, head, first and read state)
 *   returns { epoch or false, head seq, entries, first retained entry id or false, unread, readUpTo or false, version }
 */
export const READ_SCRIPT = `${READ_STATE_LUA}
local m = redis.call('HMGET', KEYS[1], 'e', 's', 'v')
if not m[1] then return {false, 0, {}, false, 0, false, 0} end
local head = tonumber(m[2])
local start = '-'
if tonumber(ARGV[1]) > 0 then start = '(' .. ARGV[1] .. '-0' end
local entries = {}
if tonumber(ARGV[2]) > 0 then entries = redis.call('XRANGE', KEYS[2], start, '+', 'COUNT', ARGV[2]) end
local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
local firstId = false
if first then firstId = first[1] end
local unread, readUpTo = readState(KEYS[1], KEYS[2], KEYS[3], m[1], head)
return {m[1], head, entries, firstId, unread, readUpTo, tonumber(m[3] or '0')}
`;

/**
 * LIST returns a page of the inbox, newest first, with each entry's read flag.
 *   KEYS: meta, log, reads
 *   ARGV: before seq (0 = from the newest), count
 *   returns { epoch or false, { {seq, envelope JSON, read 0/1}... }, more 0/1 }
 */
export const LIST_SCRIPT = `
local m = redis.call('HMGET', KEYS[1], 'e', 'r')
if not m[1] then return {false, {}, 0} end
local r = tonumber(m[2] or '0')
local top = '+'
if tonumber(ARGV[1]) > 0 then top = '(' .. ARGV[1] .. '-0' end
local entries = redis.call('XREVRANGE', KEYS[2], top, '-', 'COUNT', ARGV[2])
local items = {}
for i, entry in ipairs(entries) do
  local seq = tonumber(string.match(entry[1], '^(%d+)'))
  local read = 0
  if seq <= r or redis.call('ZSCORE', KEYS[3], seq) then read = 1 end
  items[i] = {seq, entry[2][2], read}
end
local more = 0
if #entries > 0 and #entries == tonumber(ARGV[2]) then
  if redis.call('XREVRANGE', KEYS[2], '(' .. entries[#entries][1], '-', 'COUNT', 1)[1] then more = 1 end
end
return {m[1], items, more}
`;

/**
 * MARK_READ marks notifications read by id; ids unknown (never stored, trimmed) or already read change nothing.
 * Publishes a read-state message when something changed.
 *   KEYS: meta, log, ids, reads, readat
 *   ARGV: route channel, max age (ms), ids...
 *   returns { epoch or false, head, unread, readUpTo or false, version, ids marked now... }
 */
export const MARK_READ_SCRIPT = `${READ_STATE_LUA}
local meta, log, ids, reads, readat = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local m = redis.call('HMGET', meta, 'e', 's', 'r', 'v')
if not m[1] then return {false, 0, 0, false, 0} end
local epoch, head, r, version = m[1], tonumber(m[2]), tonumber(m[3] or '0'), tonumber(m[4] or '0')
local now = nowMs()
local marked = {}
for i = 3, #ARGV do
  local seq = redis.call('HGET', ids, ARGV[i])
  if seq and tonumber(seq) > r and redis.call('ZADD', reads, seq, seq) == 1 then
    redis.call('HSET', readat, seq, now)
    marked[#marked + 1] = ARGV[i]
  end
end
if #marked > 0 then
  version = redis.call('HINCRBY', meta, 'v', 1)
  redis.call('PEXPIRE', reads, ARGV[2])
  redis.call('PEXPIRE', readat, ARGV[2])
end
local unread, readUpTo = readState(meta, log, reads, epoch, head)
if #marked > 0 then
  publishReadState(ARGV[1], epoch .. '.' .. head, version, unread, readUpTo, marked)
end
return {epoch, head, unread, readUpTo, version, unpack(marked)}
`;

/**
 * MARK_ALL_READ moves the read-up-to mark: O(log n), whatever the number of notifications it covers. Notifications
 * stored after `upTo` stay unread. Publishes a read-state message when the mark moved.
 *   KEYS: meta, log, reads, rmarks
 *   ARGV: route channel, max age (ms), epoch of upTo ('' = the current one), upTo seq (0 = the head)
 *   returns { epoch or false, head, unread, readUpTo or false, version, moved 0/1 }, or { epoch, -1 } for a cursor
 *   this feed did not issue
 */
export const MARK_ALL_READ_SCRIPT = `${READ_STATE_LUA}
local meta, log, reads, rmarks = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local m = redis.call('HMGET', meta, 'e', 's', 'r', 'v')
if not m[1] then
  if ARGV[3] ~= '' then return {false, -1} end
  return {false, 0, 0, false, 0, 0}
end
local epoch, head, r, version = m[1], tonumber(m[2]), tonumber(m[3] or '0'), tonumber(m[4] or '0')
local upTo = tonumber(ARGV[4])
if (ARGV[3] ~= '' and ARGV[3] ~= epoch) or upTo > head then return {epoch, -1} end
if upTo == 0 then upTo = head end
local moved = 0
if upTo > r then
  moved = 1
  redis.call('HSET', meta, 'r', upTo)
  redis.call('ZREMRANGEBYSCORE', reads, '-inf', upTo)
  redis.call('ZADD', rmarks, upTo, upTo .. ':' .. nowMs())
  redis.call('PEXPIRE', rmarks, ARGV[2])
  version = redis.call('HINCRBY', meta, 'v', 1)
end
local unread, readUpTo = readState(meta, log, reads, epoch, head)
if moved == 1 then
  publishReadState(ARGV[1], epoch .. '.' .. head, version, unread, readUpTo, nil)
end
return {epoch, head, unread, readUpTo, version, moved}
`;

/**
 * ACK moves the delivered-up-to mark to an acknowledged cursor (acknowledging an older one changes nothing).
 *   KEYS: meta, log, dmarks
 *   ARGV: epoch, seq, max age (ms), ms the gateway held the acknowledgement before this call (the mark's time is
 *         when it arrived)
 *   returns { -1 } for a cursor this feed did not issue, { 0 } when nothing moved, { 1, ms since the acknowledged
 *   notification was stored (-1 if trimmed) }
 */
export const ACK_SCRIPT = `${READ_STATE_LUA}
local m = redis.call('HMGET', KEYS[1], 'e', 's', 'd')
local seq = tonumber(ARGV[2])
if not m[1] or m[1] ~= ARGV[1] or seq > tonumber(m[2]) then return {-1} end
if seq <= tonumber(m[3] or '0') then return {0} end
local now = nowMs() - tonumber(ARGV[4] or '0')
redis.call('HSET', KEYS[1], 'd', seq)
redis.call('ZADD', KEYS[3], seq, seq .. ':' .. now)
redis.call('PEXPIRE', KEYS[3], ARGV[3])
local entry = redis.call('XRANGE', KEYS[2], seq .. '-0', seq .. '-0')[1]
if not entry then return {1, -1} end
return {1, now - tonumber(entry[2][6])}
`;

/**
 * STATUS: where one notification stands, by id.
 *   KEYS: meta, log, ids, readat, rmarks, dmarks
 *   ARGV: id
 *   returns { 0 } when the id is not retained, else { 1, epoch, seq, storedAt ms or false, deliveredAt ms or false,
 *   readAt ms or false } (a time of 0: delivered or read, time unknown)
 */
export const STATUS_SCRIPT = `
local seq = redis.call('HGET', KEYS[3], ARGV[1])
if not seq then return {0} end
local n = tonumber(seq)
local m = redis.call('HMGET', KEYS[1], 'e', 'r', 'd')
local entry = redis.call('XRANGE', KEYS[2], seq .. '-0', seq .. '-0')[1]
local storedAt = false
if entry then storedAt = entry[2][6] end
local function markAt(key)
  local mark = redis.call('ZRANGEBYSCORE', key, n, '+inf', 'LIMIT', 0, 1)[1]
  if not mark then return '0' end
  return string.match(mark, ':(%d+)$')
end
local deliveredAt = false
if n <= tonumber(m[3] or '0') then deliveredAt = markAt(KEYS[6]) end
local readAt = redis.call('HGET', KEYS[4], seq)
if not readAt and n <= tonumber(m[2] or '0') then readAt = markAt(KEYS[5]) end
return {1, m[1], n, storedAt, deliveredAt, readAt}
`;
