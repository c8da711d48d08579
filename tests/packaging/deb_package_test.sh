#!/usr/bin/env bash
# Installing as operators do (issue 12 item 7). From the already built tree, without rebuilding:
# - cpack builds the Debian package into a scratch directory; it is unpacked (dpkg-deb -x, -e) and
#   every file is checked: the binary (runs, says the project version, stripped), the man pages
#   (one per man/*.scd), the systemd units (paths, reload, stop timeout, spool), the service user,
#   the example configuration as a conffile, the control fields and maintainer scripts;
# - systemd-analyze verify on the unpacked units, when systemd-analyze is installed;
# - `make install DESTDIR=… PREFIX=/usr/local` puts everything under DESTDIR/usr/local, with units
#   naming /usr/local paths, and a second install keeps an edited configuration.
# Usage: deb_package_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail

source_dir=$(cd "$1" && pwd)
build_dir=$(cd "$2" && pwd)
work=$(mktemp -d)
serve_pid=
stop_serve_and_clean_up() {
    [[ -z $serve_pid ]] || kill -KILL "$serve_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap stop_serve_and_clean_up EXIT

failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# The value of KEY= in a unit file (the last one, as systemd takes it for single-valued keys);
# empty when the file is missing, so that each check of a missing unit fails on its own.
unit_value() {
    { sed -n "s/^$2=//p" "$1" 2>/dev/null || true; } | tail -n 1
}

# Seconds in a duration as systemd and evrelay write them here: 30, 30s, 2m, 1m30s.
to_seconds() {
    local text=$1 total=0 number unit
    [[ $text =~ ^[0-9]+$ ]] && {
        echo "$text"
        return
    }
    while [[ $text =~ ^([0-9]+)(min|ms|s|m|h)(.*)$ ]]; do
        number=${BASH_REMATCH[1]} unit=${BASH_REMATCH[2]} text=${BASH_REMATCH[3]}
        case $unit in
        h) total=$((total + number * 3600)) ;;
        m | min) total=$((total + number * 60)) ;;
        s) total=$((total + number)) ;;
        ms) total=$((total + (number + 999) / 1000)) ;;
        esac
    done
    [[ -z $text ]] || {
        echo "cannot read duration '$1'" >&2
        return 1
    }
    echo "$total"
}

expect_file() {
    [[ -f $1 ]] || fail "missing: ${1#"$work"/}"
}

project_version=$(sed -n 's/^CMAKE_PROJECT_VERSION:[A-Z]*=//p' "$build_dir/CMakeCache.txt")
[[ -n $project_version ]] || {
    echo "no CMAKE_PROJECT_VERSION in $build_dir/CMakeCache.txt" >&2
    exit 1
}
man_pages=()
for scd in "$source_dir"/man/*.scd; do
    man_pages+=("$(basename "$scd" .scd).gz") # evrelay-serve.1.scd -> evrelay-serve.1.gz
done

# Checks the installed units under ROOT: binary BINARY, configuration CONFIG.
check_units() {
    local root=$1 binary=$2 config=$3 units=$1/$4
    local serve=$units/evrelay.service flush=$units/evrelay-flush.service
    local timer=$units/evrelay-flush.timer
    for unit in "$serve" "$flush" "$timer"; do
        expect_file "$unit"
    done

    local exec_start
    exec_start=$(unit_value "$serve" ExecStart)
    [[ $exec_start == "$binary serve --config $config "* ]] ||
        fail "evrelay.service ExecStart is '$exec_start', not '$binary serve --config $config …'"
    [[ $(unit_value "$serve" ExecReload) == "/bin/kill -HUP \$MAINPID" ]] ||
        fail "evrelay.service does not reload with /bin/kill -HUP \$MAINPID"
    # serve's shutdown timeout: the one on the command line, or the default its --help gives.
    local shutdown_timeout stop_timeout
    if [[ $exec_start =~ --shutdown-timeout[=\ ]([^ ]+) ]]; then
        shutdown_timeout=${BASH_REMATCH[1]}
    else
        shutdown_timeout=$("$work/root/usr/bin/evrelay" serve --help |
            sed -n 's/.*--shutdown-timeout.*(default \([^)]*\)).*/\1/p')
    fi
    stop_timeout=$(unit_value "$serve" TimeoutStopSec)
    if [[ -z $stop_timeout ]]; then
        fail "evrelay.service has no TimeoutStopSec"
    elif (($(to_seconds "$stop_timeout") < $(to_seconds "$shutdown_timeout"))); then
        fail "evrelay.service TimeoutStopSec=$stop_timeout is shorter than serve's --shutdown-timeout $shutdown_timeout"
    fi
    # The spool serve writes and flush delivers is the units' StateDirectory.
    local state_dir spool
    state_dir=/var/lib/$(unit_value "$serve" StateDirectory)
    [[ $exec_start =~ --spool[=\ ]([^ ]+) ]] && spool=${BASH_REMATCH[1]} || spool=
    [[ $spool == "$state_dir" ]] ||
        fail "evrelay.service spools to '$spool', not its StateDirectory $state_dir"
    [[ $(unit_value "$flush" ExecStart) == "$binary flush $state_dir --config $config "* ]] ||
        fail "evrelay-flush.service does not run '$binary flush $state_dir --config $config …'"
    [[ $(unit_value "$flush" StateDirectory) == "$(unit_value "$serve" StateDirectory)" ]] ||
        fail "evrelay-flush.service and evrelay.service name different StateDirectory values"
    [[ $(unit_value "$flush" Type) == oneshot ]] || fail "evrelay-flush.service is not Type=oneshot"
    [[ -n $(unit_value "$timer" OnCalendar) ]] || fail "evrelay-flush.timer has no OnCalendar"
    # Both services run as the user the sysusers.d entry creates.
    local user
    user=$(awk '$1 == "u" { print $2 }' "$root/${4%/systemd/system}/sysusers.d/evrelay.conf" 2>/dev/null)
    for unit in "$serve" "$flush"; do
        [[ -n $user && $(unit_value "$unit" User) == "$user" ]] ||
            fail "$(basename "$unit") User= is not the sysusers.d user '$user'"
    done
}

# --- The Debian package -------------------------------------------------------------------------
if ! cpack --config "$build_dir/CPackConfig.cmake" -G DEB -B "$work/out" >"$work/cpack.log" 2>&1; then
    cat "$work/cpack.log" >&2
    echo "FAIL: cpack could not build the package" >&2
    exit 1
fi
debs=("$work"/out/*.deb)
[[ ${#debs[@]} == 1 && -f ${debs[0]} ]] || {
    echo "FAIL: cpack made no single .deb: ${debs[*]}" >&2
    exit 1
}
deb=${debs[0]}
echo "package: $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"
dpkg-deb -x "$deb" "$work/root"
dpkg-deb -e "$deb" "$work/control"

binary=$work/root/usr/bin/evrelay
expect_file "$binary"
if [[ -x $binary ]]; then
    version_line=$("$binary" --version) || fail "usr/bin/evrelay --version exits $?"
    [[ $version_line == "evrelay $project_version" ]] ||
        fail "usr/bin/evrelay --version says '$version_line', not 'evrelay $project_version'"
    readelf -S "$binary" | grep -q '\.debug_info' && fail "usr/bin/evrelay is not stripped"
else
    fail "usr/bin/evrelay is not executable"
fi
for page in "${man_pages[@]}"; do
    expect_file "$work/root/usr/share/man/man1/$page"
    if [[ -f $work/root/usr/share/man/man1/$page ]]; then
        zcat "$work/root/usr/share/man/man1/$page" | grep -q '^\.TH' ||
            fail "usr/share/man/man1/$page is not a gzip-compressed man page"
    fi
done
check_units "$work/root" /usr/bin/evrelay /etc/evrelay/relay.conf usr/lib/systemd/system
expect_file "$work/root/usr/lib/sysusers.d/evrelay.conf"
expect_file "$work/root/usr/share/doc/evrelay/examples/relay.conf"
expect_file "$work/root/etc/evrelay/relay.conf"
cmp -s "$work/root/etc/evrelay/relay.conf" "$source_dir/examples/relay.conf" ||
    fail "etc/evrelay/relay.conf is not examples/relay.conf"
grep -qx /etc/evrelay/relay.conf "$work/control/conffiles" 2>/dev/null ||
    fail "/etc/evrelay/relay.conf is not listed in DEBIAN/conffiles"

control=$work/control/control
[[ $(sed -n 's/^Version: //p' "$control") == "$project_version-1" ]] ||
    fail "control Version is '$(sed -n 's/^Version: //p' "$control")', not '$project_version-1'"
depends=$(sed -n 's/^Depends: //p' "$control")
for library in libc6 libcurl4 libssl3 procps; do
    [[ $depends =~ (^|, )$library( |,|$) ]] || fail "control Depends lacks $library: '$depends'"
done
for script in postinst prerm postrm; do
    if [[ -x $work/control/$script ]]; then
        sh -n "$work/control/$script" || fail "DEBIAN/$script is not valid sh"
    else
        fail "DEBIAN/$script is missing or not executable"
    fi
done

# The units' command lines, as this binary reads them (a renamed flag would fail the service at
# start): serve with ExecStart's arguments, plus a loopback ephemeral port and --no-forward (the
# config's keys are placeholders), until it listens, then SIGTERM; then flush's, in --dry-run.
unit_arguments() {
    unit_value "$work/root/usr/lib/systemd/system/$1" ExecStart |
        sed -e 's|^/usr/bin/evrelay ||' -e "s|/etc/evrelay/|$work/root/etc/evrelay/|g" \
            -e "s|/var/lib/evrelay/spool|$work/spool|g"
}
if [[ -x $binary && -f $work/root/usr/lib/systemd/system/evrelay.service ]]; then
    read -ra serve_arguments <<<"$(unit_arguments evrelay.service)"
    "$binary" "${serve_arguments[@]}" --port 0 --bind 127.0.0.1 --no-forward >"$work/serve.log" 2>&1 &
    serve_pid=$!
    for ((tick = 0; tick < 200; tick++)); do # 20 s at most
        grep -q 'listening on' "$work/serve.log" && break
        kill -0 "$serve_pid" 2>/dev/null || break
        sleep 0.1
    done
    grep -q 'listening on' "$work/serve.log" || fail "serve with evrelay.service's arguments did not start"
    kill -TERM "$serve_pid" 2>/dev/null || true
    for ((tick = 0; tick < 200; tick++)); do # 20 s at most (its --shutdown-timeout is 10 s)
        kill -0 "$serve_pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$serve_pid" 2>/dev/null; then
        kill -KILL "$serve_pid"
        fail "serve with evrelay.service's arguments did not stop within 20 s of SIGTERM"
    fi
    serve_status=0
    wait "$serve_pid" || serve_status=$?
    serve_pid=
    if ((serve_status != 0)); then
        cat "$work/serve.log" >&2
        fail "serve with evrelay.service's arguments exited $serve_status"
    fi
fi
if [[ -x $binary && -f $work/root/usr/lib/systemd/system/evrelay-flush.service ]]; then
    read -ra flush_arguments <<<"$(unit_arguments evrelay-flush.service)"
    "$binary" "${flush_arguments[@]}" --dry-run >"$work/flush.log" 2>&1 || {
        cat "$work/flush.log" >&2
        fail "flush with evrelay-flush.service's arguments (and --dry-run) failed"
    }
fi

# systemd's own reading of the units, on copies whose binary is the unpacked one (the host has
# no /usr/bin/evrelay, and --root would hide the host's sysinit.target and /bin/kill).
if command -v systemd-analyze >/dev/null; then
    mkdir "$work/verify"
    for unit in evrelay.service evrelay-flush.service evrelay-flush.timer; do
        sed "s|/usr/bin/evrelay |$binary |" "$work/root/usr/lib/systemd/system/$unit" \
            >"$work/verify/$unit" 2>/dev/null || true
    done
    if (cd "$work/verify" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no \
        evrelay.service evrelay-flush.service evrelay-flush.timer) >"$work/verify.log" 2>&1 &&
        ! grep -q . "$work/verify.log"; then
        echo "systemd-analyze verify: the three units are clean"
    else
        cat "$work/verify.log" >&2
        fail "systemd-analyze verify reports problems in the units"
    fi
else
    echo "SKIPPED: systemd-analyze is not installed here; the units were not verified by systemd"
fi

# --- make install DESTDIR=… PREFIX=/usr/local ---------------------------------------------------
stage=$work/stage
install_with_make() {
    make -C "$source_dir" --no-print-directory install BUILD_DIR="$build_dir" DESTDIR="$stage" \
        PREFIX=/usr/local >"$work/install.log" 2>&1 || {
        cat "$work/install.log" >&2
        fail "make install DESTDIR=$stage PREFIX=/usr/local failed"
    }
}
install_with_make
outside=$(cd "$stage" && find . \( -type f -o -type l \) ! -path './usr/local/*')
[[ -z $outside ]] || fail "make install PREFIX=/usr/local wrote outside DESTDIR/usr/local: $outside"
expect_file "$stage/usr/local/bin/evrelay"
for page in "${man_pages[@]}"; do
    expect_file "$stage/usr/local/share/man/man1/$page"
done
check_units "$stage" /usr/local/bin/evrelay /usr/local/etc/evrelay/relay.conf \
    usr/local/lib/systemd/system
expect_file "$stage/usr/local/etc/evrelay/relay.conf"
if [[ -f $stage/usr/local/etc/evrelay/relay.conf ]]; then
    echo "# edited by the operator" >>"$stage/usr/local/etc/evrelay/relay.conf"
    install_with_make
    grep -q '^# edited by the operator$' "$stage/usr/local/etc/evrelay/relay.conf" ||
        fail "a second make install overwrote the edited usr/local/etc/evrelay/relay.conf"
fi

if ((failures > 0)); then
    echo "deb_package_test: $failures check(s) failed" >&2
    exit 1
fi
echo "deb_package_test: the package and make install hold every expected file"
