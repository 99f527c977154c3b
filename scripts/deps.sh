#!/bin/sh
# deps.sh [--check|--optional] PACKAGE... — make sure these Debian packages
# are installed. As root it installs the missing ones with apt-get;
# otherwise (or with --check, which never installs) it names them, prints
# the exact command that installs them and fails, so nothing half-builds.
# --optional: the same, but it succeeds: without root it only says what is
# missing and how to install it, and as root a failed install is reported.
set -u
install=1
optional=0
if [ "${1:-}" = --check ]; then
    install=0
    shift
elif [ "${1:-}" = --optional ]; then
    optional=1
    shift
fi
command -v dpkg-query >/dev/null 2>&1 || {
    echo "tg: not a Debian system; make sure these (or their equivalents) are installed: $*" >&2
    exit 0
}
missing=""
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ] || [ $install = 0 ]; then
    sudo=sudo
    [ "$(id -u)" -eq 0 ] && sudo=
    echo "tg: missing Debian packages:$missing" >&2
    [ $optional = 1 ] && echo "tg: they are optional (see the Makefile for what they add); install them with:" >&2
    [ $optional = 0 ] && echo "tg: install them with:" >&2
    echo "    ${sudo:+$sudo }apt-get install -y$missing" >&2
    exit $((1 - optional))
fi
echo "tg: installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet; refresh them only when the
# install cannot find something.
apt-get install -y --no-install-recommends $missing ||
    { apt-get update && apt-get install -y --no-install-recommends $missing; } ||
    { [ $optional = 1 ] && echo "tg: could not install the optional$missing; going on without" >&2; }
