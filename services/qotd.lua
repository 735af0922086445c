-- Quote of the Day (RFC 865): one random quote per connection.
-- Quotes are separated by blank lines; each is sent with CRLF line ends
-- and kept under 512 bytes as the RFC asks.

local function load_quotes(path)
  local list, lines = {}, {}
  local f, err = io.open(path, "r")
  if not f then
    superd.log("error", "cannot read quotes: %s", err)
    return { "No quotes today.\r\n" }
  end
  local function flush()
    local q = table.concat(lines)
    if #q > 0 and #q < 512 then list[#list + 1] = q end
    lines = {}
  end
  for line in f:lines() do
    if line:match("^%s*$") then flush() else lines[#lines + 1] = line .. "\r\n" end
  end
  flush()
  f:close()
  return list
end

quotes = load_quotes(superd.path(options.quotes or "quotes.txt"))
math.randomseed(os.time())

function main(socket)
  socket:write(quotes[math.random(#quotes)])
end
