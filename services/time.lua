-- time (RFC 868): seconds since 1900-01-01 00:00 UTC, 32 bits, big-endian.
-- The count wraps in 2036, as the RFC's clients expect.
local EPOCH_1900 = 2208988800

function main(socket)
  socket:write(string.pack(">I4", (os.time() + EPOCH_1900) % 2^32 // 1))
end
