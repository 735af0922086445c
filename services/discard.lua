-- discard (RFC 863): reads and throws away whatever arrives.
function main(socket)
  while socket:readsome(65536) do end
end
