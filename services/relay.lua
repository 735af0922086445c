-- A TCP relay to options.host:options.port, as xinetd's redirect: each
-- client gets a connection of its own to the upstream server, and one
-- coroutine per direction copies bytes across.  flush() is the
-- back-pressure: a direction reads no more until what it wrote has gone
-- to the kernel, so a slow client slows the upstream, never superd's
-- memory.  A half-close is passed on with shutdown("w"), and the relay
-- ends when both directions have ended.

local host = options.host or "127.0.0.1"
local port = tonumber(options.port)
local CHUNK = 16384

if port == nil then
  error("relay: options.port is required")
end

-- Copies from one socket to the other until the input ends, then passes
-- the end on.  A write or flush that fails means the far side is gone.
local function pump(from, to)
  while true do
    local data = from:readsome(CHUNK)
    if data == nil then
      break
    end
    if not to:write(data) or not to:flush() then
      return
    end
  end
  to:shutdown("w")
end

function main(client)
  local upstream, err = superd.connect(host, port)
  if upstream == nil then
    superd.log("warning", "upstream %s:%d: %s", host, port, err)
    return
  end
  local back = superd.spawn(pump, upstream, client)
  pump(client, upstream)
  back:join()
end
