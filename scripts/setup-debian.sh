#!/bin/sh
# Installs what nnc needs from Debian's packages (run as root). Does nothing
# when everything is already there, so it is cheap to call every time.
set -e
PKGS="build-essential pkg-config libdnnl-dev libjansson-dev libpng-dev zlib1g-dev dataset-fashion-mnist fortunes clang libomp-dev valgrind cppcheck"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then echo "setup: run as root to install:$missing" >&2; exit 1; fi
    echo "setup: installing$missing"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
fi
