#!/bin/sh
# Rserve Desk: install Docker Engine on a Debian or Ubuntu VPS, start it and
# give the SSH user access. Idempotent: a second run changes nothing and says
# "already there". Sent by `rdesk_core::bootstrap` as `sh -s` with this file on
# stdin; it can also be run by hand: `sh install-docker.sh [--check]`.
#
#   --check   change nothing; exit 0 when everything is already there, 1 when
#             something would be done (3 and 2 as below).
#
# Exit codes: 0 done or already there, 1 something to do (--check only),
# 2 not root and no password-less sudo, 3 unsupported OS, 4 install or start
# failed.
#
# Environment (for tests; the defaults are what a VPS needs):
#   RDESK_OS_RELEASE   the os-release file to read (default /etc/os-release)
#   RDESK_USER         the user to add to the docker group (default: id -un)
#   RDESK_SKIP_START   1: install the packages but do not start the daemon
#                      (an unprivileged test container cannot run dockerd)
set -eu

os_release="${RDESK_OS_RELEASE:-/etc/os-release}"
target_user="${RDESK_USER:-$(id -un)}"
skip_start="${RDESK_SKIP_START:-0}"
mode="${1:-install}"

say() { printf 'rserve-desk: %s\n' "$*"; }
fail() {
    code="$1"
    shift
    printf 'rserve-desk: %s\n' "$*" >&2
    exit "$code"
}

case "$mode" in
    install | --check) ;;
    *) fail 4 "unknown argument '$mode' (expected nothing or --check)" ;;
esac

# --- the OS: Debian or Ubuntu only -------------------------------------------
if [ ! -r "$os_release" ]; then
    fail 3 "unsupported OS: cannot read $os_release; Rserve Desk supports Debian and Ubuntu"
fi
os_field() {
    sed -n "s/^$1=//p" "$os_release" | head -n 1 | tr -d "\"'"
}
os_id="$(os_field ID)"
os_name="$(os_field PRETTY_NAME)"
case "$os_id" in
    debian | ubuntu) ;;
    *)
        fail 3 "unsupported OS: ${os_name:-${os_id:-unknown}} (ID=${os_id:-none}); Rserve Desk supports Debian and Ubuntu only, nothing was changed"
        ;;
esac

# --- what is to do ------------------------------------------------------------
need_install=0
need_start=0
need_group=0

if ! command -v docker >/dev/null 2>&1 || ! command -v dockerd >/dev/null 2>&1; then
    need_install=1
fi

as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    else
        sudo -n "$@"
    fi
}

daemon_up() {
    command -v docker >/dev/null 2>&1 || return 1
    docker info >/dev/null 2>&1 && return 0
    if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then
        sudo -n docker info >/dev/null 2>&1 && return 0
    fi
    return 1
}

if [ "$skip_start" != 1 ] && ! daemon_up; then
    need_start=1
fi

in_docker_group() {
    id -nG "$target_user" 2>/dev/null | tr ' ' '\n' | grep -qx docker
}
if [ "$target_user" != root ] && ! in_docker_group; then
    need_group=1
fi

if [ "$need_install$need_start$need_group" = 000 ]; then
    say "Docker Engine: already there ($os_name, $(docker --version 2>/dev/null || echo docker))"
    say "already there"
    exit 0
fi
if [ "$mode" = --check ]; then
    [ "$need_install" = 1 ] && say "to do: install docker.io"
    [ "$need_start" = 1 ] && say "to do: start the Docker daemon"
    [ "$need_group" = 1 ] && say "to do: add $target_user to the docker group"
    exit 1
fi

# --- privileges ---------------------------------------------------------------
if [ "$(id -u)" != 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        fail 2 "user $(id -un) is not root and sudo is not installed; run the bootstrap as root or install sudo"
    fi
    if ! sudo -n true 2>/dev/null; then
        fail 2 "user $(id -un) may not use sudo without a password; allow it (NOPASSWD) or bootstrap as root"
    fi
fi

# --- install ------------------------------------------------------------------
if [ "$need_install" = 1 ]; then
    say "installing docker.io from the $os_id repositories"
    # A fresh VPS often runs unattended-upgrades: wait for the dpkg lock
    # rather than fail. An install killed half-way is finished first.
    apt_wait="-o DPkg::Lock::Timeout=600"
    as_root env DEBIAN_FRONTEND=noninteractive dpkg --configure -a ||
        fail 4 "dpkg --configure -a failed (an earlier install was interrupted)"
    # shellcheck disable=SC2086
    as_root env DEBIAN_FRONTEND=noninteractive apt-get $apt_wait update -q ||
        fail 4 "apt-get update failed"
    # shellcheck disable=SC2086
    as_root env DEBIAN_FRONTEND=noninteractive apt-get $apt_wait install -y -q --no-install-recommends docker.io ||
        fail 4 "apt-get install docker.io failed"
    say "installed: $(docker --version 2>/dev/null || echo 'docker.io')"
else
    say "Docker Engine: already there ($(docker --version 2>/dev/null || echo docker))"
fi

# --- start --------------------------------------------------------------------
if [ "$skip_start" = 1 ]; then
    say "not starting the daemon (RDESK_SKIP_START=1)"
elif daemon_up; then
    say "Docker daemon: already running"
else
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        say "starting Docker with systemctl (enabled at boot)"
        as_root systemctl enable --now docker || fail 4 "systemctl enable --now docker failed"
    else
        say "no systemd: starting dockerd in the background (log: /var/log/rserve-desk-dockerd.log)"
        as_root sh -c 'nohup dockerd >/var/log/rserve-desk-dockerd.log 2>&1 &' ||
            fail 4 "could not start dockerd"
    fi
    tries=0
    until daemon_up; do
        tries=$((tries + 1))
        if [ "$tries" -ge 30 ]; then
            fail 4 "the Docker daemon did not answer within 30 s"
        fi
        sleep 1
    done
    say "Docker daemon: running"
fi

# --- access for the SSH user --------------------------------------------------
if [ "$need_group" = 1 ]; then
    if ! getent group docker >/dev/null 2>&1; then
        as_root groupadd --system docker || fail 4 "could not create the group docker"
    fi
    as_root usermod -aG docker "$target_user" || fail 4 "could not add $target_user to the group docker"
    say "added $target_user to the group docker (effective for new logins)"
elif [ "$target_user" = root ]; then
    say "user root: no group needed"
else
    say "user $target_user: already in the group docker"
fi
say "done"
