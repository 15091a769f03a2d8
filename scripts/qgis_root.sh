#!/usr/bin/env bash
# A Debian root with another QGIS, built once with debootstrap and cached outside the clone, and
# commands run inside it with this checkout bind-mounted at the same path.
#
#   scripts/qgis_root.sh build SUITE            build (or reuse) the root; prints its folder
#   scripts/qgis_root.sh run SUITE CMD [ARG...] run CMD inside it, from this checkout
#
# SUITE is a Debian suite: trixie (Debian 13, QGIS 3.40 LTR) or sid (Debian unstable, QGIS 3.44).
# Roots live in $SOILMETAL_ROOTS (default /var/cache/soilmetal/roots/SUITE). Needs root.
# First build about 3 minutes per suite (debootstrap, then QGIS); later calls take a second.
#
# A root counts as built only when its stamp file holds this script's package list and QGIS
# imports inside it; anything else (an interrupted build, a changed package list) is rebuilt.
# `run` mounts in a private mount namespace (unshare), so its mounts vanish with the command,
# however it ends; the trap unmounts them explicitly as well.
set -euo pipefail

CACHE=${SOILMETAL_ROOTS:-/var/cache/soilmetal/roots}
MIRROR=${SOILMETAL_MIRROR:-http://deb.debian.org/debian}
CHECKOUT=$(cd "$(dirname "$0")/.." && pwd -P)
PACKAGES="qgis python3-qgis qgis-providers python3-gdal gdal-bin python3-numpy python3-scipy
python3-pandas python3-matplotlib python3-pytest make"
READY_CHECK="import qgis.core, osgeo.gdal, numpy, scipy, pandas, matplotlib, pytest"

usage() { sed -n '4,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "qgis_root.sh: $*" >&2; exit 1; }

[ $# -ge 2 ] || usage
ACTION=$1 SUITE=$2
shift 2
case $SUITE in *[!a-z0-9-]* | "") die "'$SUITE' is not a Debian suite name (use trixie or sid)" ;; esac
ROOT=$CACHE/$SUITE
STAMP=$ROOT/.soilmetal-root
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot and mounts); run it with sudo"

stamp_text() { printf 'suite=%s\npackages=%s\n' "$SUITE" "$(echo $PACKAGES)"; }

ready() {
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(stamp_text)" ] &&
    chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin QT_QPA_PLATFORM=offscreen \
      /usr/bin/python3 -c "$READY_CHECK" >/dev/null 2>&1
}

# Mount points at or below $1, deepest first (from /proc/self/mountinfo, octal escapes decoded).
mounts_below() {
  awk -v p="$1" '{ m = $5; gsub(/\\040/, " ", m); if (m == p || index(m, p "/") == 1) print m }' \
    /proc/self/mountinfo | sort -r
}

# Deletes a root folder, but never through a mount: whatever is still mounted below it is
# unmounted first, and if anything stays mounted nothing is deleted.
remove_root() {
  local dir=$1 m
  [ -e "$dir" ] || return 0
  for m in $(mounts_below "$dir"); do umount "$m" 2>/dev/null || umount -l "$m" || true; done
  [ -z "$(mounts_below "$dir")" ] || die "cannot unmount everything below $dir; unmount it by hand"
  rm -rf --one-file-system "$dir"
}

build() {
  command -v debootstrap >/dev/null 2>&1 || {
    echo "Installing debootstrap on this machine..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap \
      >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
  }
  local start=$SECONDS partial=$ROOT.partial
  echo "Building a Debian $SUITE root with QGIS in $ROOT (about 3 minutes, once)..."
  remove_root "$partial"
  remove_root "$ROOT"
  mkdir -p "$CACHE"
  # In its own mount namespace, so the /proc it mounts in the root cannot outlive an interruption.
  unshare --mount --propagation private debootstrap --variant=minbase "$SUITE" "$partial" \
    "$MIRROR" >"$CACHE/$SUITE.log" 2>&1 || die "debootstrap $SUITE failed; see $CACHE/$SUITE.log"
  # No daemon may start inside the root while packages install.
  printf '#!/bin/sh\nexit 101\n' >"$partial/usr/sbin/policy-rc.d"
  chmod 755 "$partial/usr/sbin/policy-rc.d"
  # Unstable's Release file is valid for a week only: a mirror snapshot or a clock ahead of the
  # mirror would make apt refuse it.
  echo 'Acquire::Check-Valid-Until "false";' >"$partial/etc/apt/apt.conf.d/99soilmetal"
  # shellcheck disable=SC2086
  unshare --mount --propagation private /bin/sh -euc '
    mount -t proc proc "$1/proc"
    mount --rbind /dev "$1/dev"
    shift
    chroot "$0" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
      LANG=C.UTF-8 sh -euc "apt-get update -qq && apt-get install -y -qq --no-install-recommends $* \
      && apt-get clean"' "$partial" "$partial" $PACKAGES >>"$CACHE/$SUITE.log" 2>&1 ||
    die "installing QGIS in the $SUITE root failed; see $CACHE/$SUITE.log"
  mv "$partial" "$ROOT"
  stamp_text >"$STAMP"
  ready || { rm -f "$STAMP"; die "QGIS does not import in the new $SUITE root; see $CACHE/$SUITE.log"; }
  echo "Debian $SUITE root ready in $((SECONDS - start)) s: $(qgis_version)"
}

qgis_version() {
  chroot "$ROOT" dpkg-query -W -f='QGIS ${Version}, Python ' qgis 2>/dev/null
  chroot "$ROOT" /usr/bin/python3 -c 'import platform; print(platform.python_version())' 2>/dev/null
}

ensure_root() {
  mkdir -p "$CACHE"
  exec 8>"$CACHE/$SUITE.lock"
  flock 8 # one build at a time; a second caller waits and then finds the root ready
  ready || build
  flock -u 8
}

# The qgis_process to run inside the root: Debian's wrapper only adds --noversioncheck, which
# 3.22's binary rejects but 3.40 and later accept; the .bin is the plain binary either way.
inner_qgis_process() {
  local p
  for p in /usr/bin/qgis_process.bin /usr/bin/qgis_process; do
    [ -x "$ROOT$p" ] && { echo "$p"; return; }
  done
  die "no qgis_process in the $SUITE root"
}

run_inside() {
  [ $# -ge 1 ] || usage
  local qgis_process
  qgis_process=$(inner_qgis_process)
  echo "Running in Debian $SUITE ($(qgis_version)): $*"
  # The child mounts in its own mount namespace: nothing it mounts is seen outside or outlives it.
  unshare --mount --propagation private /bin/bash -euc '
    root=$1 checkout=$2 qgis_process=$3 ci=$4 addopts=$5
    shift 5
    mounted=()
    cleanup() { local i; for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
                  umount -l "${mounted[i]}" 2>/dev/null || true; done; }
    trap cleanup EXIT
    mount -t proc proc "$root/proc"; mounted+=("$root/proc")
    mount --rbind /dev "$root/dev"; mounted+=("$root/dev")
    mount -t tmpfs -o size=4g tmpfs "$root/tmp"; mounted+=("$root/tmp")
    mkdir -m 700 "$root/tmp/xdg-runtime" # Qt wants its runtime folder private
    mkdir -p "$root$checkout"; mount --bind "$checkout" "$root$checkout"; mounted+=("$root$checkout")
    chroot "$root" env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root \
      LANG=C.UTF-8 CI="$ci" QT_QPA_PLATFORM=offscreen XDG_RUNTIME_DIR=/tmp/xdg-runtime \
      PYTEST_ADDOPTS="$addopts" \
      PYTHON=/usr/bin/python3 QGIS_PROCESS="$qgis_process" \
      /bin/sh -c "cd \"\$0\" && exec \"\$@\"" "$checkout" "$@"
  ' run "$ROOT" "$CHECKOUT" "$qgis_process" "${CI:-}" "${PYTEST_ADDOPTS:-}" "$@"
}

case $ACTION in
  build) ensure_root; echo "$ROOT" ;;
  run) ensure_root; run_inside "$@" ;;
  *) usage ;;
esac
