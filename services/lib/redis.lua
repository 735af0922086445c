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

local redis = {}
redis.__index = redis

function redis.connect(address, timeout)
  local host, port = address:match("^%[?(.-)%]?:(%d+)$")
  if not host then return nil, "address must be host:port" end
  local sock, err = superd.connect(host, tonumber(port), timeout or 5)
  if not sock then return nil, err end
  return setmetatable({ sock = sock }, redis)
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

local function read_exactly(sock, n)
  local parts, got = {}, 0
  while got < n do
    local data, err = sock:read(n - got)
    if not data then return nil, err end
    parts[#parts + 1] = data
    got = got + #data
  end
  return table.concat(parts)
end

-- One reply: a string, a number, a table, false for nil, or nil, err.
local function read_reply(sock)
  local line, err = sock:read("l")
  if not line then return nil, err end
  local kind, rest = line:sub(1, 1), line:sub(2)
  if kind == "+" then return rest end
  if kind == "-" then return nil, rest end
  if kind == ":" then return math.tointeger(tonumber(rest)) end
  if kind == "$" then
    local n = tonumber(rest)
    if n < 0 then return false end
    local data, e = read_exactly(sock, n + 2)
    if not data then return nil, e end
    return data:sub(1, n)
  end
  if kind == "*" then
    local n, list = tonumber(rest), {}
    if n < 0 then return false end
    for i = 1, n do
      local v, e = read_reply(sock)
      if v == nil then return nil, e end
      list[i] = v
    end
    return list
  end
  return nil, "protocol error: " .. line
end

function redis:command(...)
  local ok, err = self.sock:write(encode(...))
  if not ok then return nil, err end
  return read_reply(self.sock)
end

function redis:publish(channel, message)
  return self:command("PUBLISH", channel, message)
end

function redis:subscribe(...)
  local ok, err = self.sock:write(encode("SUBSCRIBE", ...))
  if not ok then return nil, err end
  for _ = 1, select("#", ...) do
    local reply, e = read_reply(self.sock)
    if type(reply) ~= "table" then return nil, e or "subscribe failed" end
  end
  return true
end

-- The next message on a subscribed connection: channel, message.
function redis:receive()
  while true do
    local reply, err = read_reply(self.sock)
    if not reply then return nil, err end
    if type(reply) == "table" and reply[1] == "message" then
      return reply[2], reply[3]
    end
  end
end

function redis:close()
  self.sock:close()
end

return redis
