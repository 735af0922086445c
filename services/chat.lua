-- A line chat, the seed's: every member's coroutine writes to the others.
-- members survives SIGUSR1 because the script re-runs in the same globals.
--
-- With options.redis = "host:port", joins, lines and leaves also go out on
-- a Redis channel (options.channel, default "superd:chat"), and what other
-- superd instances publish there reaches the members here: one room across
-- workers and machines.  Without it the room is this process's.  The
-- bus's other options (redis_password, redis_timeout, max_line) are in
-- superd-lua(7).

if members == nil then
  members = {}
end

local function login(socket)
  socket:write("Handle you go by: ")
  return socket:read()
end

local function deliver(except, text)
  for connection in pairs(members) do
    if connection ~= except then
      connection:write(text)
    end
  end
end

local function publish(text)
  if bus and bus.pub then
    bus.pub.sock:write(bus.redis.encode("PUBLISH", bus.channel, bus.id .. "\n" .. text))
  end
end

local function wallaction(socket, who, everybody, me)
  local text = string.format("%s %s\n", who, everybody)
  deliver(socket, text)
  publish(text)
  if me ~= nil then
    socket:write(string.format("%s\n", me))
  end
end

local function wall(socket, who, everybody)
  return wallaction(socket, who .. ":", everybody)
end

-- The bus: one connection publishes (replies off), one subscribes.  Each
-- is a loop in a spawned coroutine that connects, works until the
-- connection fails, logs why, and connects again after 1 s, doubling to
-- 30 s while connecting fails.  A generation is the table in the global
-- bus: a reload that changes the bus's options replaces it, and the loops
-- of an older one end (they are killed, and they check).
local function stopping()
  return superd.stopping()
end

local function open(b)
  local r, err = b.redis.connect(b.address, b.timeout)
  if not r then return nil, err end
  r.sock:settimeout(b.timeout)
  if b.password then
    local ok, e = r:command("AUTH", b.password)
    if ok ~= "OK" then
      r:close()
      return nil, "AUTH: " .. tostring(e or ok)
    end
  end
  return r
end

-- Replies are off, so what comes is a refusal of CLIENT REPLY OFF or a
-- stray: dropped in chunks.  A quiet connection is asked for a PONG
-- (replies on for it), which must come within half the timeout.
local function hold_publisher(b, hold)
  local r, err = open(b)
  if not r then return false, err end
  hold.r = r
  local pong, e = r:command("PING")
  if pong ~= "PONG" then return false, "PING: " .. tostring(e or pong) end
  r.sock:write(b.redis.encode("CLIENT", "REPLY", "OFF"))
  local ip, port = r.sock:getsockname()
  b.id, b.pub = ip .. ":" .. port, r
  superd.log("info", "publishing to %s on %s", b.channel, b.address)
  r.sock:settimeout(b.timeout / 2)
  local asked = false
  while bus == b do
    local data, why = r.sock:readsome(4096)
    if data then
      asked = false
    elseif why ~= "timeout" then
      return true, why
    elseif asked then
      return true, "no answer to PING"
    else
      local enc = b.redis.encode
      r.sock:write(enc("CLIENT", "REPLY", "ON"), enc("PING"),
        enc("CLIENT", "REPLY", "OFF"))
      asked = true
    end
  end
  return true
end

-- A message from elsewhere, held to what a member here could say: a
-- handle and a line of max_line each, one line.
local function relay(b, message)
  local origin, text = message:match("^(.-)\n(.*)$")
  if not origin or origin == b.id then return end
  if #text > b.max_text or not text:find("^[^\n]*\n$") then
    superd.log("warning", "dropped a message of %d bytes from %s on %s",
      #message, origin, b.channel)
    return
  end
  deliver(nil, text)
end

local function relay_subscription(b, hold)
  local r, err = open(b)
  if not r then return false, err end
  hold.r = r
  r.max_bulk = b.max_text + #b.channel + 256
  local ok, e = r:subscribe(b.channel)
  if not ok then return false, "SUBSCRIBE: " .. tostring(e) end
  superd.log("info", "subscribed to %s on %s", b.channel, b.address)
  r.sock:settimeout(b.timeout / 2)
  local asked
  while bus == b do
    local channel, message = r:receive()
    if channel then
      relay(b, message)
    elseif message == "reply too long" then
      superd.log("warning", "dropped a message too long on %s", b.channel)
    elseif message ~= "timeout" then
      return true, message
    elseif asked == r.replies then
      return true, "no answer to PING"
    else
      r.sock:write(b.redis.encode("PING"))
      asked = r.replies
    end
  end
  return true
end

-- One of the bus's loops.  step returns whether it got a working
-- connection (the back-off starts again) and why it ended.
local function keep(b, what, step)
  local wait = 1
  while bus == b and not stopping() do
    local hold = {}
    local ok, worked, err = pcall(step, b, hold)
    if not ok then worked, err = false, worked end
    if hold.r then
      if b.pub == hold.r then b.pub = nil end
      hold.r:close()
    end
    if bus ~= b or stopping() then break end
    superd.log("warning", "%s on %s: %s", what, b.address,
      tostring(err or "closed"))
    if worked then wait = 1 end
    superd.sleep(wait)
    wait = math.min(wait * 2, 30)
  end
end

local function bus_wanted()
  if not options.redis then return nil end
  local max_line = math.tointeger(tonumber(options.max_line)) or 65536
  return {
    address = tostring(options.redis),
    channel = tostring(options.channel or "superd:chat"),
    password = options.redis_password and tostring(options.redis_password),
    timeout = tonumber(options.redis_timeout) or 15,
    max_text = 2 * max_line + 32,
  }
end

local function same_bus(b, w)
  for k, v in pairs(w) do
    if b[k] ~= v then return false end
  end
  return true
end

local function running(b)
  for _, h in ipairs(b.handles or {}) do
    if tostring(h) ~= "task (running)" then return false end
  end
  return true
end

local wanted = bus_wanted()
if bus and not (wanted and same_bus(bus, wanted) and running(bus)) then
  local old = bus
  bus = nil
  for _, h in ipairs(old.handles or {}) do h:kill() end
  superd.log("info", "bus on %s stopped", tostring(old.address))
end
if wanted and bus == nil then
  bus = wanted
  bus.redis = require "redis"
  bus.handles = {
    superd.spawn(keep, bus, "publisher", hold_publisher),
    superd.spawn(keep, bus, "subscriber", relay_subscription),
  }
end

function main(socket)
  socket:settimeout(options.login_timeout or 60)
  local name = login(socket)
  if not name or name == "" then return end
  socket:settimeout(nil)
  members[socket] = name
  wallaction(socket, name, "is in da room!", "You are in the room.")
  print(string.format("%s has joined the party!", name))
  for line in socket:lines() do
    wall(socket, name, line)
  end
end

function fini(socket)
  local name = members[socket]
  if name == nil then return end
  members[socket] = nil
  print(string.format("%s has left the party!", name))
  wallaction(socket, name, "has left the building!")
end
