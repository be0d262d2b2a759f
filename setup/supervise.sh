#!/usr/bin/env bash
# supervise.sh SECONDS COMMAND…: run COMMAND until it ends. The first SIGTERM or SIGINT
# asks it to stop (SIGTERM); if it still runs SECONDS later, it is killed (SIGKILL). A
# server with a stuck thread (Odoo's threaded server waits for its threads, and ignores
# further signals while it reloads) so never needs `kill -9` by hand.
set -uo pipefail
grace=${1:?usage: supervise.sh SECONDS COMMAND…}
shift
"$@" &
child=$!

stop() {
    trap '' TERM INT
    kill -TERM "$child" 2>/dev/null || exit 143
    for ((tick = 0; tick < grace * 10; tick++)); do
        kill -0 "$child" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$child" 2>/dev/null; then
        echo "[ipai-ops] $1 did not stop within ${grace} s of SIGTERM: killing it" >&2
        kill -KILL "$child" 2>/dev/null
    fi
    wait "$child" 2>/dev/null
    exit 143
}
trap 'stop "$(basename "$1")"' TERM INT
wait "$child"
