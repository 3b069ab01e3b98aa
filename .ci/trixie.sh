#!/usr/bin/env bash
# A Debian 13 (trixie) tree for building and testing the GIMP 3 plug-in
# from Debian 12, as root.
#
#   .ci/trixie.sh tree           make the tree, or reuse it when complete
#   .ci/trixie.sh test [OUT]     build this source tree in it with plain
#                                `meson setup` and run the gimp3 test suite;
#                                meson's output is copied to OUT
#   .ci/trixie.sh run CMD...     run a command in it (source at /src/aenet,
#                                a build folder kept at /src/build)
#
# AENET_TRIXIE_WORK (default /src) moves /src inside the tree, so that two
# clones on one machine can build and test in the same tree at once.
#
# The tree lives outside the clone (AENET_TRIXIE, default
# /var/cache/aenet/trixie) so that CI runs on the same machine reuse it.
# It counts as complete only once .ci/packages-trixie is installed: an
# interrupted run starts over. Everything is mounted in a mount namespace
# of its own, so the mounts go away with the script however it ends.
# With AENET_GIMP2_RESULTS set to a folder (the GIMP 2.10 test's results),
# the folder is copied in and the GIMP 3 test compares its outputs to it.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
root=${AENET_TRIXIE:-/var/cache/aenet/trixie}
mirror=${AENET_TRIXIE_MIRROR:-http://deb.debian.org/debian}
stamp=$root/.aenet-complete
work=${AENET_TRIXIE_WORK:-/src}
wanted=$(sort "$src/.ci/packages-trixie")

say() { printf '== trixie: %s\n' "$*" >&2; }
die() { printf 'trixie: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap and chroot need it)"

# Runs "$@" inside the tree, with /proc, /sys, /dev and a fresh /dev/shm
# and /tmp mounted in a private mount namespace.
in_tree() {
  unshare --mount --propagation private -- sh -ec '
    root=$1; shift
    mount -t proc proc "$root/proc"
    mount -t sysfs sysfs "$root/sys"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs tmpfs "$root/dev/shm"
    mount -t tmpfs tmpfs "$root/tmp"
    exec chroot "$root" env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"' sh "$root" "$@"
}

make_tree() {
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    say "reusing $root"
    return
  fi
  command -v debootstrap >/dev/null || {
    say "installing debootstrap"
    apt-get install -y -q --no-install-recommends debootstrap >&2 \
      || { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends debootstrap >&2; } \
      || die "cannot install debootstrap"
  }
  if [ ! -f "$root/.aenet-base" ]; then
    say "debootstrap --variant=minbase trixie $root $mirror"
    rm -rf "$root"
    mkdir -p "$root"
    debootstrap --variant=minbase trixie "$root" "$mirror" >&2 \
      || die "debootstrap failed (see above); no GIMP 3 tests can run"
    touch "$root/.aenet-base"
  fi
  rm -f "$stamp"
  say "installing $(echo $wanted)"
  in_tree apt-get update -q >&2 || die "apt-get update failed in the tree"
  # shellcheck disable=SC2086
  in_tree apt-get install -y -q --no-install-recommends $wanted >&2 \
    || die "apt-get install failed in the tree"
  in_tree apt-get clean
  echo "$wanted" >"$stamp"
}

# A copy of this source tree (no build folders, no git, no checkpoints) at
# $work/aenet in the tree.
copy_source() {
  rm -rf "$root$work/aenet" "$root$work/gimp2-results"
  mkdir -p "$root$work/aenet"
  tar -C "$src" --exclude=./.git --exclude='./build*' --exclude=./demo \
    --exclude=./models/checkpoints -cf - . | tar -C "$root$work/aenet" -xf -
  if [ -n "${AENET_GIMP2_RESULTS:-}" ]; then
    [ -d "$AENET_GIMP2_RESULTS" ] || die "AENET_GIMP2_RESULTS=$AENET_GIMP2_RESULTS is no folder"
    cp -r "$AENET_GIMP2_RESULTS" "$root$work/gimp2-results"
  fi
}

case ${1:-} in
tree)
  make_tree
  ;;
test)
  out=${2:-$root$work/test-output.txt}
  make_tree
  copy_source
  say "building and testing"
  genv=""
  [ -z "${AENET_GIMP2_RESULTS:-}" ] || genv="AENET_GIMP2_RESULTS=$work/gimp2-results"
  rm -rf "$root$work/build"
  set +e
  in_tree sh -ec "cd $work/aenet
    meson setup $work/build >$work/setup.log || { cat $work/setup.log; exit 1; }
    ninja -C $work/build >$work/ninja.log 2>&1 || { cat $work/ninja.log; exit 1; }
    test -x $work/build/plugin/gimp3/aenet || { echo 'no GIMP 3 plug-in was built'; exit 1; }
    env $genv meson test -C $work/build --suite gimp3 --print-errorlogs" 2>&1 | tee "$out"
  status=${PIPESTATUS[0]}
  # A skipped GIMP 3 test (no GIMP, Xvfb or xdotool) must not pass as a
  # success.
  if [ "$status" -eq 0 ] && { ! grep -q 'gimp3 .*OK .*subtests passed' "$out" \
    || ! grep -q 'gimp3-undo .*OK' "$out"; }; then
    echo "trixie: error: the GIMP 3 tests did not run" >&2
    status=1
  fi
  exit "$status"
  ;;
run)
  shift
  make_tree
  copy_source
  in_tree sh -c 'cd "$0/aenet" && "$@"' "$work" "$@"
  ;;
*)
  die "usage: $0 tree | test [OUT] | run CMD..."
  ;;
esac
