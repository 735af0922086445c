-- status: superd's counters over HTTP/1.0.
--   GET /metrics  the Prometheus text exposition format
--   GET /         a small HTML page with the same, refreshing itself
--   HEAD          the same headers without the body
-- Anything else is a 404; a malformed request or oversized line a 400, a
-- request not all in within request_timeout (options, seconds; default
-- 10) a 408, a body above max_body (options, bytes; default 1 MiB) a 413.
-- A body within it is read and discarded, so the close is not a reset.

local families = {
  { "superd_connections_total", "counter", "Connections accepted.", "accepted" },
  { "superd_connections_active", "gauge", "Connections open now.", "active" },
  { "superd_connections_refused_total", "counter",
    "Connections refused by a limit or an access list.", "refused" },
  { "superd_bytes_received_total", "counter", "Bytes received from clients.", "bytes_in" },
  { "superd_bytes_sent_total", "counter", "Bytes sent to clients.", "bytes_out" },
  { "superd_script_errors_total", "counter", "Lua errors raised by scripts.", "errors" },
  { "superd_lua_memory_bytes", "gauge", "Memory in use by the service's Lua state.", "memory" },
  -- a fifth field: the counts are a table, one series per key, labelled so
  { "superd_tls_handshakes_total", "counter", "TLS handshakes completed, by version.",
    "tls_versions", "version" },
  { "superd_tls_handshake_failures_total", "counter",
    "TLS handshakes that failed, by reason (protocol, certificate, closed, timeout).",
    "tls_failed_by", "reason" },
}

local function sorted_names(services)
  local names = {}
  for name in pairs(services) do names[#names + 1] = name end
  table.sort(names)
  return names
end

-- One family's lines for one service (or one worker's row of it).
local function series(out, f, labels, counts)
  local v = counts[f[4]]
  if not f[5] then
    out[#out + 1] = string.format('%s{%s} %d\n', f[1], labels, v)
    return
  end
  local keys = sorted_names(v)
  for _, k in ipairs(keys) do
    out[#out + 1] = string.format('%s{%s,%s="%s"} %d\n', f[1], labels, f[5], k, v[k])
  end
end

local function metrics()
  local st, out = superd.stats(), {}
  local names = sorted_names(st.services)
  for _, f in ipairs(families) do
    out[#out + 1] = string.format("# HELP %s %s\n# TYPE %s %s\n", f[1], f[3], f[1], f[2])
    for _, name in ipairs(names) do
      local s = st.services[name]
      if s.workers then
        -- workers = N: a series per worker; sum(...) by (service) adds them up
        for k, w in ipairs(s.workers) do
          series(out, f, string.format('service="%s",worker="%d"', name, k), w)
        end
      else
        series(out, f, string.format('service="%s"', name), s)
      end
    end

  end
  -- with workers, these are the answering worker's own: labelled, so that
  -- scrapes answered by different workers are not read as resets
  local own = ""
  for _, name in ipairs(names) do
    if st.services[name].workers then
      own = string.format('{worker="%d"}', superd.worker)
      break
    end
  end
  out[#out + 1] = "# HELP superd_uptime_seconds Seconds since superd started.\n"
  out[#out + 1] = "# TYPE superd_uptime_seconds gauge\n"
  out[#out + 1] = string.format("superd_uptime_seconds%s %.3f\n", own, st.uptime)
  out[#out + 1] = "# HELP superd_reloads_total Reloads (SIGUSR1 and SIGHUP).\n"
  out[#out + 1] = "# TYPE superd_reloads_total counter\n"
  out[#out + 1] = string.format("superd_reloads_total%s %d\n", own, st.reloads)
  return table.concat(out)
end

local function html()
  local st = superd.stats()
  local out = {
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">",
    "<meta http-equiv=\"refresh\" content=\"5\"><title>superd</title>",
    "<style>td,th{padding:2px 10px;text-align:right}th:first-child,td:first-child{text-align:left}</style>",
    "</head><body>\n",
    string.format("<h1>superd</h1><p>up %.0f s, %d reloads</p>\n", st.uptime, st.reloads),
    "<table><tr><th>service</th><th>active</th><th>accepted</th><th>refused</th>",
    "<th>bytes in</th><th>bytes out</th><th>errors</th><th>Lua memory</th></tr>\n",
  }
  for _, name in ipairs(sorted_names(st.services)) do
    local s = st.services[name]
    out[#out + 1] = string.format(
      "<tr><td>%s</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td><td>%d</td></tr>\n",
      name, s.active, s.accepted, s.refused, s.bytes_in, s.bytes_out, s.errors, s.memory)
  end
  out[#out + 1] = "</table></body></html>\n"
  return table.concat(out)
end

local function respond(socket, status, ctype, body, head)
  socket:write(string.format(
    "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
    status, ctype, #body), head and "" or body)
end

local function fail(socket, err)
  if err == "timeout" then
    respond(socket, "408 Request Timeout", "text/plain", "request timeout\n")
  else
    respond(socket, "400 Bad Request", "text/plain", "bad request\n")
  end
end

-- Every read shares one deadline, so a client that drips one header at a
-- time cannot hold the request open past it.
local function reader(socket, seconds)
  local deadline = superd.now() + seconds
  return function(fmt)
    local left = deadline - superd.now()
    if left <= 0 then return nil, "timeout" end
    socket:settimeout(left)
    return socket:read(fmt)
  end
end

-- Headers are read and ignored but Content-Length; at most 100 of them.
local function read_headers(read)
  local length = 0
  for _ = 1, 100 do
    local line, err = read("l")
    if line == nil then return nil, err end
    if line == "" then return length end
    local value = line:lower():match("^content%-length:[ \t]*(.-)[ \t]*$")
    if value then
      length = value:match("^%d+$") and tonumber(value)
      if length == nil then return nil, "bad" end
    end
  end
  return nil, "bad"
end

local function discard(read, n)
  while n > 0 do
    local data, err = read(math.min(n, 65536))
    if data == nil then return nil, err end
    n = n - #data
  end
  return true
end

-- 413, then what the client still sends is read for a while and dropped:
-- closing with it unread would reset the connection, and the client could
-- lose the answer.
local function too_large(socket)
  respond(socket, "413 Payload Too Large", "text/plain", "payload too large\n")
  socket:shutdown("w")
  local read = reader(socket, 2)
  while read(65536) do end
end

function main(socket)
  local timeout = options.request_timeout or 10
  local read = reader(socket, timeout)
  local line, err = read("l")
  local method, path, length
  if line then method, path = line:match("^(%u+) (/%S*) HTTP/%d%.%d$") end
  if method == nil then return fail(socket, err) end
  length, err = read_headers(read)
  if length == nil then return fail(socket, err) end
  if length > (options.max_body or 1048576) then return too_large(socket) end
  local ok
  ok, err = discard(read, length)
  if not ok then return fail(socket, err) end
  socket:settimeout(timeout)
  local head = method == "HEAD"
  if method ~= "GET" and not head then
    respond(socket, "404 Not Found", "text/plain", "not found\n")
  elseif path == "/metrics" then
    respond(socket, "200 OK", "text/plain; version=0.0.4", metrics(), head)
  elseif path == "/" then
    respond(socket, "200 OK", "text/html; charset=utf-8", html(), head)
  else
    respond(socket, "404 Not Found", "text/plain", "not found\n", head)
  end
end
