-- A line chat, the seed's: every member's coroutine writes to the others.
-- members survives SIGUSR1 because the script re-runs in the same globals.
--
-- With options.redis = "host:port", joins, lines and leaves also go out on
-- a Redis channel (options.channel, default "superd:chat"), and what other
-- superd instances publish there reaches the members here: one room across
-- workers and machines.  Without it the room is this process's.

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

-- The bus: one connection publishes (replies off), one subscribes; each
-- reconnects when Redis goes away.
local function hold_publisher(redis, address)
  while true do
    local r = redis.connect(address)
    if r then
      r.sock:write(redis.encode("CLIENT", "REPLY", "OFF"))
      local ip, port = r.sock:getsockname()
      bus.id, bus.pub = ip .. ":" .. port, r
      superd.log("info", "publishing to %s on %s", bus.channel, address)

      r.sock:read("a")
      bus.pub = nil
      r:close()

    end
    superd.sleep(1)
  end
end

local function relay_subscription(redis, address)
  while true do
    local r = redis.connect(address)
    if r and r:subscribe(bus.channel) then
      superd.log("info", "subscribed to %s on %s", bus.channel, address)
      while true do
        local channel, message = r:receive()
        if not channel then break end

        local origin, text = message:match("^(.-)\n(.*)$")
        if origin and origin ~= bus.id then deliver(nil, text) end
      end
      r:close()
    end
    superd.sleep(1)
  end
end

if options.redis and bus == nil then
  local redis = require "redis"
  bus = { redis = redis, channel = options.channel or "superd:chat" }
  superd.spawn(hold_publisher, redis, options.redis)
  superd.spawn(relay_subscription, redis, options.redis)
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
