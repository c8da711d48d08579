# Sourced by bench/replay.sh and bench/spool.sh: the upstream they send to, nginx answering 202
# to every POST after reading and discarding its body (bench/nginx-sink.conf). The caller
# defines log, die, $root and $limit, and stops $sink_pid at exit.

# start_nginx_sink DIR: starts nginx with its files under DIR on an ephemeral port of 127.0.0.1,
# installing nginx-light first if it is missing; sets sink_pid and sink_port and returns once
# nginx answers (bounded: 10 s).
start_nginx_sink() {
    local dir=$1
    if ! command -v nginx >/dev/null; then
        log "installing nginx-light"
        timeout "$limit" apt-get install -y nginx-light >&2 || die "cannot install nginx-light"
    fi
    mkdir -p "$dir"
    sink_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$sink_port|g" "$root/bench/nginx-sink.conf" \
        >"$dir/nginx.conf"
    nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" -g 'daemon off;' \
        2>"$dir/stderr.log" &
    sink_pid=$!
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$sink_port/nginx_status" && return 0
        kill -0 "$sink_pid" 2>/dev/null ||
            die "nginx exited: $(cat "$dir/stderr.log" "$dir/error.log" 2>/dev/null)"
        sleep 0.1
    done
    die "nginx did not answer on 127.0.0.1:$sink_port"
}

# The requests nginx has answered so far (its own status requests included).
nginx_sink_posts() {
    curl -s --max-time 5 "http://127.0.0.1:$sink_port/nginx_status" | awk 'NR == 3 { print $3 }'
}
