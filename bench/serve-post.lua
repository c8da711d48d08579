-- wrk script of bench/serve.sh: every request is an SDK's analytics post of the fixed 50-event
-- body (tests/fixtures/bench-payload-50-events.json, schema 4).
--
--   wrk -t2 -c64 -d15s --latency -s bench/serve-post.lua http://127.0.0.1:PORT/bulk -- PAYLOAD
--
-- PAYLOAD defaults to $BENCH_SERVE_PAYLOAD. done() prints one line of key=value figures that
-- serve.sh reads (wrk's own summary above it is for people); no response() callback, because
-- defining one makes wrk hand every response to Lua, which would slow the load generator down.
--
-- Two environment variables change what is posted (the summarising mode of serve.sh):
--   BENCH_SERVE_SCHEMA  the X-LaunchDarkly-Event-Schema header (default 4)
--   BENCH_SERVE_BODIES  a file of bodies, one per line: the requests cycle through them (each
--                       wrk thread starting at its own line) instead of posting PAYLOAD. Only
--                       then is request() defined: a static request costs wrk no Lua per request.

local function read_payload(path)
    local file = assert(io.open(path, "rb"), "cannot open the payload " .. tostring(path))
    local body = file:read("*a")
    file:close()
    return body
end

wrk.method = "POST"
wrk.headers["Authorization"] = "sdk-bench"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-LaunchDarkly-Event-Schema"] = os.getenv("BENCH_SERVE_SCHEMA") or "4"

local bodies_file = os.getenv("BENCH_SERVE_BODIES")
local requests = {} -- BENCH_SERVE_BODIES: every request, formatted once in init()
local next_request = 1

-- wrk builds the request after init() returns, so the body (and its Content-Length) set here is
-- what every connection of the thread sends.
function init(args)
    if not bodies_file or bodies_file == "" then
        wrk.body = read_payload(args[1] or os.getenv("BENCH_SERVE_PAYLOAD"))
        return
    end
    for line in assert(io.open(bodies_file, "rb"), "cannot open " .. bodies_file):lines() do
        if line ~= "" then
            requests[#requests + 1] = wrk.format(nil, nil, nil, line)
        end
    end
    assert(#requests > 0, "no bodies in " .. bodies_file)
    -- Threads run the same script: start each at its own line (wrk.thread is this thread).
    next_request = (tonumber(tostring(wrk.thread):match("0x(%x+)"), 16) or 0) % #requests + 1
end

if bodies_file and bodies_file ~= "" then
    function request()
        local formatted = requests[next_request]
        next_request = next_request % #requests + 1
        return formatted
    end
end

function done(summary, latency, requests)
    local errors = summary.errors
    io.write(string.format(
        "wrk_result requests=%d duration_us=%d bytes=%d status_errors=%d connect_errors=%d " ..
        "read_errors=%d write_errors=%d timeouts=%d p50_us=%d p90_us=%d p99_us=%d " ..
        "p999_us=%d max_us=%d mean_us=%.1f\n",
        summary.requests, summary.duration, summary.bytes, errors.status, errors.connect,
        errors.read, errors.write, errors.timeout, latency:percentile(50),
        latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max,
        latency.mean))
end
