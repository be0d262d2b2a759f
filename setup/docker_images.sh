#!/usr/bin/env bash
# Local stand-ins for the images ipai-ops deploys from, on machines with no registry:
#
#   local/bookworm   debootstrap --variant=minbase bookworm, imported
#   odoo:19          Odoo's Debian dependencies + the configured Odoo 19 tree (ODOO_SRC),
#                    laid out as the official image (docker/standins/odoo.Dockerfile)
#   postgres:16      Debian bookworm's PostgreSQL 15 with an entrypoint behaving like the
#                    official image's for docker-compose.yml (docker/standins/postgres.Dockerfile)
#   caddy:2          Debian bookworm's Caddy, laid out as the official image
#                    (docker/standins/caddy.Dockerfile), the front of docker-compose.yml
#
#   DOCKER_HOST=… setup/docker_images.sh     make sure all four are in that engine
#                                             (exit 3: no Odoo 19 is configured)
#
# Each image carries a label with the digest of what it was made from. An image already
# in the engine with the right digest is kept; otherwise it is loaded from the per-user
# cache (~/.cache/ipai-ops/images/NAME-DIGEST.tar), and built and saved there only when
# the cache has none — a fresh clone or a fresh engine does not rebuild.
set -euo pipefail
source "$(dirname "$0")/common.sh"

[ -n "${DOCKER_HOST:-}" ] || die "DOCKER_HOST is not set (start an engine with setup/docker_engine.sh)"
# Debian's CLI matches Debian's engine; its classic builder takes a context on stdin
DOCKER=/usr/bin/docker
export DOCKER_BUILDKIT=0
CACHE=${IPAI_OPS_IMAGE_CACHE:-${XDG_CACHE_HOME:-$USER_HOME/.cache}/ipai-ops/images}
STANDINS="$PROJECT_ROOT/docker/standins"
DIGEST_LABEL=ipai-ops.standin-digest

engine_digest() {
    "$DOCKER" image inspect --format "{{ index .Config.Labels \"$DIGEST_LABEL\" }}" "$1" 2>/dev/null || true
}

# ensure IMAGE DIGEST BUILD_FUNCTION: present in the engine with that digest, by any means
ensure() {
    local image=$1 digest=$2 build=$3 tarball
    tarball="$CACHE/${image//[:\/]/_}-$digest.tar"
    if [ "$(engine_digest "$image")" = "$digest" ]; then
        return 0
    fi
    if [ -f "$tarball" ]; then
        say "loading $image from the image cache"
        "$DOCKER" load -q -i "$tarball" >/dev/null
        [ "$(engine_digest "$image")" = "$digest" ] && return 0
        say "cached $image is not the expected one: rebuilding"
    fi
    say "building $image (once per machine; cached in ${CACHE/#$USER_HOME/\~})"
    "$build" "$digest"
    mkdir -p "$CACHE"
    "$DOCKER" save -o "$tarball.tmp.$$" "$image"
    mv "$tarball.tmp.$$" "$tarball"
    # older digests of the same image are of no further use
    find "$CACHE" -maxdepth 1 -name "${image//[:\/]/_}-*.tar" ! -name "$(basename "$tarball")" -delete
}

build_bookworm() {
    local digest=$1 rootfs
    rootfs=$(mktemp -d "${TMPDIR:-/tmp}/ipai-ops-rootfs.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -rf '$rootfs'" RETURN
    debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian \
        >"$rootfs.log" 2>&1 || { tail -n 20 "$rootfs.log" >&2; die "debootstrap failed"; }
    rm -f "$rootfs.log"
    tar -C "$rootfs" --exclude='./var/cache/apt/archives/*.deb' --exclude='./var/lib/apt/lists/*_*' \
        -c . | "$DOCKER" import --change "LABEL $DIGEST_LABEL=$digest" \
        --change 'CMD ["/bin/bash"]' - local/bookworm >/dev/null
}

build_odoo() {
    local digest=$1 src log
    src=$(odoo_src)
    log=$(mktemp "${TMPDIR:-/tmp}/ipai-ops-odoo-build.XXXXXX")
    # The context is the stand-in's files plus Odoo's tree, streamed as one tar. Translations
    # are left out (two thirds of the tree; en_US needs none) and so is any VCS metadata.
    if ! tar -c --exclude='*/i18n' --exclude='.git' \
        -C "$STANDINS" odoo.Dockerfile odoo.conf entrypoint.sh odoo-launcher \
        -C "$src" odoo addons \
        | "$DOCKER" build --network host -q -f odoo.Dockerfile \
            --label "$DIGEST_LABEL=$digest" -t odoo:19 - >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "building the odoo:19 stand-in failed (log: $log)"
    fi
    rm -f "$log"
}

# build_standin NAME TAG DIGEST FILE…: docker/standins/NAME.Dockerfile (and FILEs) as TAG
build_standin() {
    local name=$1 tag=$2 digest=$3 log
    shift 3
    log=$(mktemp "${TMPDIR:-/tmp}/ipai-ops-$name-build.XXXXXX")
    if ! tar -c -C "$STANDINS" "$name.Dockerfile" "$@" \
        | "$DOCKER" build --network host -q -f "$name.Dockerfile" \
            --label "$DIGEST_LABEL=$digest" -t "$tag" - >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "building the $tag stand-in failed (log: $log)"
    fi
    rm -f "$log"
}
build_postgres() { build_standin postgres postgres:16 "$1" postgres-entrypoint.sh; }
build_caddy() { build_standin caddy caddy:2 "$1"; }

# what an image is made of, as one short digest
digest_of() {
    cat "$@" | sha256sum | cut -c1-16
}

# Odoo's tree changes rarely and is large: its listing (names, sizes, times) stands for it.
odoo_tree_listing() {
    local src=$1
    (cd "$src" && find odoo addons -name i18n -prune -o -name .git -prune \
        -o -type f -printf '%p %s %T@\n' | LC_ALL=C sort)
}

ODOO=$(odoo_src)
if [ -z "$ODOO" ]; then
    say "no Odoo 19 configured (set ODOO_SRC or write ODOO_SRC=… to $IPAI_OPS_CONFIG)"
    exit 3  # distinct: callers skip what needs the odoo:19 stand-in rather than fail
fi

bookworm_digest=$(digest_of "$STANDINS/bookworm.recipe")
ensure local/bookworm "$bookworm_digest" build_bookworm

postgres_digest=$(digest_of "$STANDINS/postgres.Dockerfile" "$STANDINS/postgres-entrypoint.sh" \
    <(echo "$bookworm_digest"))
ensure postgres:16 "$postgres_digest" build_postgres

caddy_digest=$(digest_of "$STANDINS/caddy.Dockerfile" <(echo "$bookworm_digest"))
ensure caddy:2 "$caddy_digest" build_caddy

listing=$(mktemp)
trap 'rm -f "$listing"' EXIT
odoo_tree_listing "$ODOO" >"$listing"
echo "$bookworm_digest" >>"$listing"
odoo_digest=$(digest_of "$STANDINS/odoo.Dockerfile" "$STANDINS/odoo.conf" "$STANDINS/entrypoint.sh" \
    "$STANDINS/odoo-launcher" \
    "$listing")
ensure odoo:19 "$odoo_digest" build_odoo
