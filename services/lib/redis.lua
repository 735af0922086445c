-- A small Redis client (RESP2) on superd.connect: commands, PUBLISH,
-- SUBSCRIBE.  A connection belongs to the coroutine that opened it and
-- closes when that coroutine ends.
--
--   local redis = require "redis"
--   local r = assert(redis.connect("127.0.0.1:6379"))
--   r:command("SET", "k", "v")          --> "OK"
--   r:publish("room", "hello")          --> number of receivers
--   r:subscribe("room")
--   local channel, message = r:receive()
--
-- What a server sends is bounded, so that no reply can cost more than a
-- few MiB of the service's memory_limit or raise: a reply holds at most
-- max_bulk bytes of bulk strings (a longer string is read and thrown
-- away in chunks, and the reply is "reply too long", the connection
-- still usable), max_array values and max_depth levels of arrays
-- (beyond those, and on anything that is not RESP, "protocol error: ...":
-- close the connection).  The defaults are in redis.limits; a client's
-- own fields of the same names override them.

local redis = {}
redis.__index = redis

redis.limits = { max_bulk = 4 * 1024 * 1024, max_array = 65536, max_depth = 16 }

local CHUNK = 65536

function redis.connect(address, timeout)
  local host, port = address:match("^%[?(.-)%]?:(%d+)$")
  if not host then return nil, "address must be host:port" end
  local sock, err = superd.connect(host, tonumber(port), timeout or 5)
  if not sock then return nil, err end
  return setmetatable({ sock = sock, replies = 0 }, redis)
end

local function encode(...)
  local n = select("#", ...)
  local out = { "*", n, "\r\n" }
  for i = 1, n do
    local arg = tostring((select(i, ...)))
    out[#out + 1] = "$" .. #arg .. "\r\n" .. arg .. "\r\n"
  end
  return table.concat(out)
end
redis.encode = encode

function redis:limit(name)
  return self[name] or redis.limits[name]
end

-- Reads n bytes and keeps none of them.
local function skip(sock, n)
  while n > 0 do
    local data, err = sock:readsome(math.min(n, CHUNK))
    if not data then return nil, err end
    n = n - #data
  end
  return true
end

local function length(rest)
  local n = rest:match("^%-?%d+$") and math.tointeger(tonumber(rest))
  if not n or n < -1 then return nil end
  return n
end

local read_value

local function read_bulk(self, budget, n)
  local sock = self.sock
  if n > budget.bulk then
    local ok, err = skip(sock, n + 2)
    if not ok then return nil, err end
    budget.long = true
    return ""
  end
  budget.bulk = budget.bulk - n
  local data, err = sock:read(n + 2)
  if not data or #data < n + 2 then return nil, err or "closed" end
  if data:sub(-2) ~= "\r\n" then
    return nil, "protocol error: bulk string not ended by CRLF"
  end
  return data:sub(1, n)
end

local function read_array(self, budget, n, depth)
  if depth >= self:limit("max_depth") then
    return nil, "protocol error: arrays nested too deep"
  end
  budget.values = budget.values - n
  if budget.values < 0 then
    return nil, "protocol error: too many values in a reply"
  end
  local list = {}
  for i = 1, n do
    local v, err = read_value(self, budget, depth + 1)
    if v == nil then return nil, err end
    list[i] = v
  end
  return list
end

-- One value: a string, an integer, a table, false for a null, or nil and
-- an error (an error reply's text is budget.error, the value false).
function read_value(self, budget, depth)
  local line, err = self.sock:read("l")
  if not line then return nil, err end
  budget.started = true
  local kind, rest = line:sub(1, 1), line:sub(2)
  if kind == "+" then return rest end
  if kind == "-" then
    budget.error = budget.error or rest
    return false
  end
  if kind == ":" then
    local n = rest:match("^%-?%d+$") and math.tointeger(tonumber(rest))
    if n then return n end
  elseif kind == "$" or kind == "*" then
    local n = length(rest)
    if n == -1 then return false end
    if n and kind == "$" then return read_bulk(self, budget, n) end
    if n then return read_array(self, budget, n, depth) end
  end
  return nil, "protocol error: " .. line:sub(1, 40)
end

-- One reply: a string, a number, a table, false for nil, or nil, err.
local function read_reply(self)
  local budget = {
    bulk = self:limit("max_bulk"), values = self:limit("max_array")
  }
  local v, err = read_value(self, budget, 0)
  if v == nil and err == "timeout" and budget.started then
    -- part of a reply is read: what comes next is no longer a reply
    err = "timeout within a reply"
  end
  if v == nil then return nil, err end
  self.replies = self.replies + 1
  if budget.long then return nil, "reply too long" end
  if budget.error and v == false then return nil, budget.error end
  return v
end

function redis:command(...)
  local ok, err = self.sock:write(encode(...))
  if not ok then return nil, err end
  return read_reply(self)
end

function redis:publish(channel, message)
  return self:command("PUBLISH", channel, message)
end

function redis:subscribe(...)
  local ok, err = self.sock:write(encode("SUBSCRIBE", ...))
  if not ok then return nil, err end
  for _ = 1, select("#", ...) do
    local reply, e = read_reply(self)
    if type(reply) ~= "table" or reply[1] ~= "subscribe" then
      return nil, e or "subscribe failed"
    end
  end
  return true
end

-- The next message on a subscribed connection: channel, message.  Other
-- pushes (a PING's "pong") are skipped; a message past the limits is
-- nil, "reply too long", and the next one may follow.
function redis:receive()
  while true do
    local reply, err = read_reply(self)
    if reply == nil then return nil, err end
    if type(reply) == "table" and reply[1] == "message" then
      if type(reply[2]) ~= "string" or type(reply[3]) ~= "string" then
        return nil, "protocol error: a message that is not two strings"
      end
      return reply[2], reply[3]
    end
  end
end

function redis:close()
  self.sock:close()
end

return redis
