-- wrk script: POST /append with a unique body per request; stop after `limit` requests per
-- thread when the environment variable APPENDS_PER_THREAD is set (used to build exact chains).
local counter = 0
local limit = tonumber(os.getenv("APPENDS_PER_THREAD") or "0")
local id = 0

function setup(thread)
    thread:set("id", id)
    id = id + 1
end

function request()
    counter = counter + 1
    return wrk.format("POST", "/append", nil, "bench-" .. id .. "-" .. counter)
end

function response(status, headers, body)
    if limit > 0 and counter >= limit then
        wrk.thread:stop()
    end
end
