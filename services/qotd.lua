-- Quote of the Day (RFC 865): one random quote per connection.
-- Quotes are separated by blank lines; each is sent with CRLF line ends
-- and kept under 512 bytes as the RFC asks.

-- A file that cannot be read or holds no quote is an error at start, at
-- `superd -t` and at reload (which then keeps the quotes it had), not at
-- every request.
local function load_quotes(path)
  local list, lines = {}, {}
  local f, err = io.open(path, "r")
  if not f then error("cannot read quotes: " .. err, 0) end
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
  if #list == 0 then
    error(path .. ": no quotes (each under 512 bytes, blank lines between)", 0)
  end
  return list
end

quotes = load_quotes(superd.path(options.quotes or "quotes.txt"))
math.randomseed(os.time())

function main(socket)
  socket:write(quotes[math.random(#quotes)])
end
