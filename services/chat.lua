-- A line chat, the seed's: every member's coroutine writes to the others.
-- members survives SIGUSR1 because the script re-runs in the same globals.

if members == nil then
  members = {}
end

local function login(socket)
  socket:write("Handle you go by: ")
  return socket:read()
end

local function wallaction(socket, who, everybody, me)
  for connection in pairs(members) do
    if connection ~= socket then
      connection:write(string.format("%s %s\n", who, everybody))
    elseif me ~= nil then
      connection:write(string.format("%s\n", me))
    end
  end
end

local function wall(socket, who, everybody)
  return wallaction(socket, who .. ":", everybody)
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
