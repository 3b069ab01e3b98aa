#!/usr/bin/env bash
# Sets aenet up on Debian 12 (GIMP 2.10) or Debian 13 (GIMP 3) and runs it
# on the bundled sample photo: installs the packages it needs, builds,
# installs the command, the GIMP plug-in and the models, then denoises and
# 2× upscales docs/samples/.
set -euo pipefail
cd "$(dirname "$0")"

# Which GIMP this Debian has: 2.10 up to Debian 12, 3 from Debian 13 on.
# The build picks the plug-in for the libgimp it finds.
. /etc/os-release
packages=.ci/packages
gimp="GIMP 2.10"
if [ "${ID:-}" = debian ] && { [ "${VERSION_ID:-0}" -ge 13 ] 2>/dev/null \
  || [ -z "${VERSION_ID:-}" ]; }; then # testing and unstable have no VERSION_ID
  packages=.ci/packages-trixie
  gimp="GIMP 3"
fi
echo "== ${PRETTY_NAME:-this system}: setting up the $gimp plug-in"

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    cat >&2 <<'MSG'
setup.sh: this installs Debian packages and aenet for all users, which needs
root, and sudo is not installed. Either run it as root:
    su -c ./setup.sh
or install sudo first (as root: apt-get install sudo; adduser YOU sudo; then
log in again) and run ./setup.sh again.
MSG
    exit 1
  fi
  sudo="sudo"
fi

echo "== Installing build dependencies (Debian packages)"
$sudo apt-get update -q
xargs -a "$packages" $sudo env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends

echo "== Building"
[ -d build ] || meson setup build --prefix=/usr/local
ninja -C build

echo "== Installing aenet, its models and the GIMP plug-in"
$sudo meson install -C build --quiet

echo "== Running aenet on the sample photo"
out=${AENET_DEMO_DIR:-$PWD/demo}
mkdir -p "$out"
aenet denoise docs/samples/coffee-noisy.png "$out/coffee-denoised.png"
aenet upscale --scale 2 docs/samples/coffee.png "$out/coffee-x2.png"
cp docs/samples/coffee-noisy.png "$out/coffee-noisy.png"
cp docs/samples/coffee.png "$out/coffee.png"
cat <<MSG

Done. Before and after, in $out:
  coffee-noisy.png  ->  coffee-denoised.png   (aenet denoise)
  coffee.png        ->  coffee-x2.png         (aenet upscale --scale 2)
In GIMP: Filters > Enhance > Autoencoder Denoise... and Autoencoder Upscale...
MSG
