-- wrk script of bench/serve.sh: every request is an SDK's analytics post of the fixed 50-event
-- body (tests/fixtures/bench-payload-50-events.json, schema 4).
--
--   wrk -t2 -c64 -d15s --latency -s bench/serve-post.lua http://127.0.0.1:PORT/bulk -- PAYLOAD
--
-- PAYLOAD defaults to $BENCH_SERVE_PAYLOAD. done() prints one line of key=value figures that
-- serve.sh reads (wrk's own summary above it is for people); no response() callback, because
-- defining one makes wrk hand every response to Lua, which would slow the load generator down.

local function read_payload(path)
    local file = assert(io.open(path, "rb"), "cannot open the payload " .. tostring(path))
    local body = file:read("*a")
    file:close()
    return body
end

wrk.method = "POST"
wrk.headers["Authorization"] = "sdk-bench"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-LaunchDarkly-Event-Schema"] = "4"

-- wrk builds the request after init() returns, so the body (and its Content-Length) set here is
-- what every connection of the thread sends.
function init(args)
    wrk.body = read_payload(args[1] or os.getenv("BENCH_SERVE_PAYLOAD"))
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
