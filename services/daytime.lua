-- daytime (RFC 867): one human-readable line with the date and time.
function main(socket)
  socket:write(os.date("%A, %B %d, %Y %H:%M:%S-%Z"), "\r\n")
end
