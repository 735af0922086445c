-- echo (RFC 862): sends back every byte as it arrives.
function main(socket)
  while true do
    local data = socket:readsome(65536)
    if not data then return end
    socket:write(data)
  end
end
