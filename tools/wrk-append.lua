-- wrk script: POST /append with a unique body per request (tools/bench.py).
local counter = 0
local id = 0

function setup(thread)
    thread:set("id", id)
    id = id + 1
end

function request()
    counter = counter + 1
    return wrk.format("POST", "/append", nil, "bench-" .. id .. "-" .. counter)
end
