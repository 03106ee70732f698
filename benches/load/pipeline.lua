-- wrk script: send 16 requests back to back on each connection before reading.
init = function(args)
  local depth = 16
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format(nil, "/")
  end
  req = table.concat(r)
end

request = function()
  return req
end
