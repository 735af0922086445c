-- status: superd's counters over HTTP/1.0.
--   GET /metrics  the Prometheus text exposition format
--   GET /         a small HTML page with the same, refreshing itself
-- Anything else is a 404; a malformed or oversized request a 400.

local families = {
  { "superd_connections_total", "counter", "Connections accepted.", "accepted" },
  { "superd_connections_active", "gauge", "Connections open now.", "active" },
  { "superd_connections_refused_total", "counter",
    "Connections refused by a limit or an access list.", "refused" },
  { "superd_bytes_received_total", "counter", "Bytes received from clients.", "bytes_in" },
  { "superd_bytes_sent_total", "counter", "Bytes sent to clients.", "bytes_out" },
  { "superd_script_errors_total", "counter", "Lua errors raised by scripts.", "errors" },
  { "superd_lua_memory_bytes", "gauge", "Memory in use by the service's Lua state.", "memory" },
}

local function sorted_names(services)
  local names = {}
  for name in pairs(services) do names[#names + 1] = name end
  table.sort(names)
  return names
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
          out[#out + 1] = string.format('%s{service="%s",worker="%d"} %d\n', f[1], name, k, w[f[4]])
        end
      else
        out[#out + 1] = string.format('%s{service="%s"} %d\n', f[1], name, s[f[4]])
      end
    end

  end
  out[#out + 1] = "# HELP superd_uptime_seconds Seconds since superd started.\n"
  out[#out + 1] = "# TYPE superd_uptime_seconds gauge\n"
  out[#out + 1] = string.format("superd_uptime_seconds %.3f\n", st.uptime)
  out[#out + 1] = "# HELP superd_reloads_total Reloads (SIGUSR1 and SIGHUP).\n"
  out[#out + 1] = "# TYPE superd_reloads_total counter\n"
  out[#out + 1] = string.format("superd_reloads_total %d\n", st.reloads)
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

local function respond(socket, status, ctype, body)
  socket:write(string.format(
    "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
    status, ctype, #body), body)
end

local function bad(socket)
  respond(socket, "400 Bad Request", "text/plain", "bad request\n")
end

-- Headers are read and ignored; at most 100 of them.
local function skip_headers(socket)
  for _ = 1, 100 do
    local line = socket:read("l")
    if line == nil then return false end
    if line == "" then return true end
  end
  return false
end

function main(socket)
  socket:settimeout(options.request_timeout or 10)
  local line = socket:read("l")
  if line == nil then return bad(socket) end
  local method, path = line:match("^(%u+) (/%S*) HTTP/%d%.%d$")
  if method == nil or not skip_headers(socket) then return bad(socket) end
  if method ~= "GET" then
    respond(socket, "404 Not Found", "text/plain", "not found\n")
  elseif path == "/metrics" then
    respond(socket, "200 OK", "text/plain; version=0.0.4", metrics())
  elseif path == "/" then
    respond(socket, "200 OK", "text/html; charset=utf-8", html())
  else
    respond(socket, "404 Not Found", "text/plain", "not found\n")
  end
end
