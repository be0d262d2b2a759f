#!/usr/bin/env bash
# A Docker engine of the project's own: one dockerd whose data, state, socket and
# pidfile all live under DIR, so that two DIRs are two independent runtime hosts.
#
#   setup/docker_engine.sh start DIR   install docker.io and docker-compose when missing,
#                                      start (or reuse) the engine; prints DIR/env.sh
#                                      (exports DOCKER_HOST)
#   setup/docker_engine.sh stop DIR    stop it by its PID; its containers stop with it
#
# IPAI_OPS_DOCKERD_ARGS adds options to dockerd, e.g. "--userns-remap=default" (the
# recommended host setting: a container's root is an unprivileged user of the host).
#
# The engine never touches the machine's network: no default bridge, no iptables
# rules, so no docker0 and no private-range address appear. Containers it runs for
# ipai-ops use host networking and listen on 127.0.0.1. There is no init system
# here, so dockerd is started directly and detached from the caller's session.
set -euo pipefail
source "$(dirname "$0")/common.sh"

READY_TIMEOUT=30  # seconds for the socket to answer
STOP_TIMEOUT=30   # seconds for dockerd to stop its containers and exit

engine_pid() {
    local pidfile=$1/docker.pid pid
    [ -f "$pidfile" ] || return 1
    pid=$(cat "$pidfile")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && printf '%s\n' "$pid"
}

ensure_installed() {
    command -v dockerd >/dev/null && [ -x /usr/bin/docker ] && command -v debootstrap >/dev/null \
        && command -v docker-compose >/dev/null && return 0
    apt_install docker.io docker-compose debootstrap
    command -v dockerd >/dev/null || die "docker.io is installed but dockerd is not on PATH"
}

start() {
    local dir
    [ -n "${1:-}" ] || die "usage: $0 start DIR"
    mkdir -p "$1"
    dir=$(cd "$1" && pwd)
    local sock="$dir/docker.sock"
    # a unix socket path is limited to 107 bytes
    [ "${#sock}" -lt 100 ] || die "engine directory path too long for a socket: $dir"
    ensure_installed
    export DOCKER_HOST="unix://$sock"
    if ! engine_pid "$dir" >/dev/null; then
        rm -f "$sock" "$dir/docker.pid"
        local extra=()
        read -r -a extra <<<"${IPAI_OPS_DOCKERD_ARGS:-}"
        setsid dockerd --bridge=none --iptables=false --ip6tables=false "${extra[@]}" \
            --data-root "$dir/data" --exec-root "$dir/run" \
            --host "$DOCKER_HOST" --pidfile "$dir/docker.pid" \
            --shutdown-timeout 5 </dev/null >>"$dir/dockerd.log" 2>&1 &
        local deadline=$((SECONDS + READY_TIMEOUT))
        until /usr/bin/docker version >/dev/null 2>&1; do
            if [ "$SECONDS" -ge "$deadline" ] || ! kill -0 $! 2>/dev/null; then
                tail -n 20 "$dir/dockerd.log" >&2
                kill -TERM $! 2>/dev/null || true
                die "dockerd did not start (log: $dir/dockerd.log)"
            fi
            sleep 0.25
        done
    fi
    printf 'export DOCKER_HOST=%q\n' "$DOCKER_HOST" >"$dir/env.sh"
    echo "$dir/env.sh"
}

stop() {
    local dir=$1 pid
    [ -d "$dir" ] || return 0
    pid=$(engine_pid "$dir") || return 0
    kill -TERM "$pid"
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            say "dockerd $pid did not stop in ${STOP_TIMEOUT}s: killing it"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.25
    done
    # dockerd leaves its host network namespace file (run/netns/default) mounted; without
    # this the directory cannot be removed
    local mount
    awk -v root="$dir/" 'index($2, root) == 1 { print $2 }' /proc/self/mounts | sort -r \
        | while read -r mount; do umount "$mount" 2>/dev/null || umount -l "$mount" || true; done
}

case "${1:-}" in
    start) shift; start "$@" ;;
    stop) shift; stop "${1:?usage: $0 stop DIR}" ;;
    *) die "usage: $0 start DIR | stop DIR" ;;
esac
