-- wrk: 64 KiB Range requests at varying offsets of one object.
-- Usage: wrk ... -s range.lua URL -- <object size in bytes>
local size = 0
local piece = 65536

function init(args)
  size = tonumber(args[1])
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
  local first = math.random(0, math.max(0, size - piece))
  local headers = { ["Range"] = string.format("bytes=%d-%d", first, first + piece - 1) }
  return wrk.format("GET", nil, headers)
end
