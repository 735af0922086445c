-- chargen (RFC 864): the 95 printable ASCII characters as a ring, 72 of
-- them a line, each line starting one further along.  TCP: until the
-- client closes, at the pace it reads.  UDP: one datagram of 0..512 bytes.

local ring = {}
for c = 32, 126 do ring[#ring + 1] = string.char(c) end
ring = table.concat(ring)
local doubled = ring .. ring

local lines = {}
for i = 1, #ring do
  lines[i] = doubled:sub(i, i + 71) .. "\r\n"
end

local function datagram()
  local n, out, i = math.random(0, 512), {}, 1
  local left = n
  while left > 0 do
    local line = lines[i]
    out[#out + 1] = line:sub(1, left)
    left = left - #line
    i = i % #lines + 1
  end
  return table.concat(out)
end

function main(socket)
  if socket:protocol() == "udp" then
    socket:write(datagram())
    return
  end
  local i = 1
  while true do
    -- a batch per write keeps the syscalls few; write waits while the
    -- client is behind, and fails once it has gone
    local batch = {}
    for _ = 1, 16 do
      batch[#batch + 1] = lines[i]
      i = i % #lines + 1
    end
    if not socket:write(table.concat(batch)) then return end
  end
end
