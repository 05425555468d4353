#!/bin/sh
# btw host bootstrap: turns a fresh Debian server into a btw Docker host. The same script
# runs from cloud-init on first boot (servers made by `btw infra apply`) and over SSH from
# `btw server bootstrap <name>` (any Debian host: the script arrives on stdin, `sh -s`).
#
# Idempotent: every step first looks, then changes only what differs, and reports
#   btw-step <step> ok|changed|skipped [detail]
# on stdout; the last line is `btw-done changed=<n>` (or `btw-fail <reason>`, exit 1).
# Package manager output goes to /var/log/btw-bootstrap.log.
#
# Docker: Debian 13 (trixie) and later ship Engine 26 + Compose v2 2.26 (`docker.io`,
# `docker-cli`, `docker-compose`); Debian 12 (bookworm) ships Engine 20.10 without Compose
# v2, so there Docker's own apt repository is used. btw needs Engine >= 25 and Compose
# >= 2.24 (healthcheck start_interval, inline `configs.content`).
#
# Arguments (all optional):
#   --insecure-registry HOST[:PORT]   plain-HTTP registry the engine may pull from (repeat)
#   --log-max-size SIZE               container json-file log rotation size (e.g. 10m)
#   --log-max-file N                  rotated files kept per container

set -eu
umask 022
export DEBIAN_FRONTEND=noninteractive LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

LOG=/var/log/btw-bootstrap.log
MIN_ENGINE=25
MIN_COMPOSE_MINOR=24
DOCKER_KEY_FINGERPRINT=9DC858229FC7DD38854AE2D88D81803C0EBFCD88

insecure=""
log_max_size=10m
log_max_file=3
changes=0
restart_docker=0

fail() { printf 'btw-fail %s\n' "$*"; exit 1; }
step() {
  printf 'btw-step %s\n' "$*"
  if [ "$2" = changed ]; then changes=$((changes + 1)); fi
}

while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || fail "missing value for $1"
  case "$1" in
    --insecure-registry)
      case "$2" in *[!A-Za-z0-9.:-]* | "") fail "invalid registry address '$2'" ;; esac
      insecure="$insecure $2" ;;
    --log-max-size)
      case "$2" in *[!0-9kmg]* | [!0-9]* | "") fail "invalid log size '$2'" ;; esac
      log_max_size=$2 ;;
    --log-max-file)
      case "$2" in *[!0-9]* | "" | 0) fail "invalid log file count '$2'" ;; esac
      log_max_file=$2 ;;
    *) fail "unknown argument '$1'" ;;
  esac
  shift 2
done

[ "$(id -u)" = 0 ] || fail "must run as root"
[ -r /etc/os-release ] || fail "no /etc/os-release: not a Debian host"
# shellcheck disable=SC1091
. /etc/os-release
[ "${ID:-}" = debian ] || fail "unsupported OS '${PRETTY_NAME:-unknown}': btw bootstraps Debian 12 or newer"
codename=${VERSION_CODENAME:-}
case "$codename" in
  bookworm) docker_source=docker-repo ;;
  trixie | forky | sid) docker_source=debian ;;
  *) fail "unsupported Debian release '${PRETTY_NAME:-$codename}': btw bootstraps Debian 12 or newer" ;;
esac

# systemd is PID 1 on real servers; lab containers and some VPS images have none, and then
# btw starts the engine itself.
if [ -d /run/systemd/system ]; then systemd=1; else systemd=0; fi

# put_file PATH MODE: stdin becomes PATH (atomically) unless it already holds exactly that.
put_file() {
  mkdir -p "$(dirname "$1")"
  tmp="$1.btw-new"
  cat > "$tmp"
  chmod "$2" "$tmp"
  if [ -f "$1" ] && cmp -s "$tmp" "$1"; then
    rm -f "$tmp"
    return 1
  fi
  mv -f "$tmp" "$1"
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# On a first boot Debian's own apt timers may hold the dpkg lock: wait for it (5 min).
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    apt-get -o DPkg::Lock::Timeout=300 update >> "$LOG" 2>&1 || fail "apt-get update failed (see $LOG)"
    apt_updated=1
  fi
  apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" >> "$LOG" 2>&1 ||
    fail "apt-get install $* failed (see $LOG)"
}

# Without systemd, packages must not try to start services while installing (their init
# scripts would fail in a container); our own policy file is removed again on exit.
own_policy=0
if [ "$systemd" = 0 ] && [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 0755 /usr/sbin/policy-rc.d
  own_policy=1
fi
cleanup() { if [ "$own_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT

echo "--- btw bootstrap $(date -u +%Y-%m-%dT%H:%M:%SZ)" >> "$LOG"

# 1. btw's directory tree
if [ -d /opt/btw/tenants ] && [ -d /opt/btw/proxy ]; then
  step dirs ok /opt/btw
else
  mkdir -p /opt/btw/tenants /opt/btw/proxy
  chmod 0755 /opt/btw
  step dirs changed /opt/btw
fi

# 2. security updates need the security suite in the apt sources
if grep -rqs -- "-security" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  step apt-security ok
else
  printf 'deb http://deb.debian.org/debian-security %s-security main\n' "$codename" |
    put_file /etc/apt/sources.list.d/btw-security.list 0644 || true
  apt_updated=0
  step apt-security changed "added $codename-security"
fi

# 3. the engine's daemon.json, before the engine is installed, so its first start uses it
# User namespaces remapped (containers' root is an unprivileged host uid): on a new engine
# only, or one that has it already. Switched on under existing containers and volumes, it
# would hide them (it moves the engine's data root): such a server keeps its engine as is.
userns=0
if grep -qs '"userns-remap"' /etc/docker/daemon.json; then
  userns=1
elif ! docker version --format '{{.Server.Version}}' > /dev/null 2>&1; then
  # no engine answering: what a stopped one holds is on its disk
  [ -n "$(ls -A /var/lib/docker/containers 2>/dev/null)" ] ||
    [ -n "$(ls -A /var/lib/docker/volumes 2>/dev/null | grep -v -e '^metadata.db$' -e '^backingFsBlockDev$')" ] || userns=1
elif [ -z "$(docker ps -aq 2>/dev/null)" ] && [ -z "$(docker volume ls -q 2>/dev/null)" ]; then
  userns=1
fi
daemon_json() {
  printf '{\n  "log-driver": "json-file",\n  "log-opts": { "max-size": "%s", "max-file": "%s" },\n  "live-restore": true' "$log_max_size" "$log_max_file"
  if [ "$userns" = 1 ]; then printf ',\n  "userns-remap": "default"'; fi
  if [ -n "$insecure" ]; then
    printf ',\n  "insecure-registries": ['
    sep=""
    for r in $insecure; do
      printf '%s"%s"' "$sep" "$r"
      sep=", "
    done
    printf ']'
  fi
  printf '\n}\n'
}
if [ -f /etc/docker/daemon.json ] && [ ! -f /etc/docker/daemon.json.before-btw ] && ! daemon_json | cmp -s - /etc/docker/daemon.json; then
  cp -p /etc/docker/daemon.json /etc/docker/daemon.json.before-btw
fi
if daemon_json | put_file /etc/docker/daemon.json 0644; then
  restart_docker=1
  step docker-config changed "/etc/docker/daemon.json"
else
  step docker-config ok
fi

# 4. packages
if [ "$docker_source" = docker-repo ]; then
  docker_pkgs="docker-ce docker-ce-cli containerd.io docker-compose-plugin"
  if [ ! -s /etc/apt/keyrings/docker.asc ]; then
    for p in ca-certificates curl gnupg; do installed "$p" || apt_install "$p"; done
    mkdir -p /etc/apt/keyrings
    curl -fsSL https://download.docker.com/linux/debian/gpg -o /etc/apt/keyrings/docker.asc.new >> "$LOG" 2>&1 ||
      fail "cannot download Docker's apt key (see $LOG)"
    gpg --show-keys --with-colons /etc/apt/keyrings/docker.asc.new 2>/dev/null | grep -q "^fpr:*$DOCKER_KEY_FINGERPRINT:" ||
      { rm -f /etc/apt/keyrings/docker.asc.new; fail "Docker's apt key does not have the expected fingerprint"; }
    mv -f /etc/apt/keyrings/docker.asc.new /etc/apt/keyrings/docker.asc
    chmod 0644 /etc/apt/keyrings/docker.asc
  fi
  if printf 'deb [arch=%s signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/debian %s stable\n' \
    "$(dpkg --print-architecture)" "$codename" | put_file /etc/apt/sources.list.d/docker.list 0644; then
    apt_updated=0
    step docker-repo changed download.docker.com
  else
    step docker-repo ok
  fi
else
  docker_pkgs="docker.io docker-cli docker-compose"
fi
pkgs="$docker_pkgs iptables procps ca-certificates unattended-upgrades fail2ban python3-systemd"
# Docker needs the AppArmor parser where the kernel enforces AppArmor (Debian's default).
if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null || true)" = Y ]; then pkgs="$pkgs apparmor"; fi
missing=""
for p in $pkgs; do installed "$p" || missing="$missing $p"; done
if [ -z "$missing" ]; then
  step packages ok
else
  # shellcheck disable=SC2086
  apt_install $missing
  step packages changed "installed$missing"
fi

# 5. SSH: keys only
sshd_conf() {
  cat <<'EOF'
# Written by btw server bootstrap. Keys only; btw multiplexes many sessions over one
# connection (ControlMaster), hence MaxSessions.
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitEmptyPasswords no
PermitRootLogin prohibit-password
MaxSessions 50
EOF
}
if sshd_conf | put_file /etc/ssh/sshd_config.d/10-btw.conf 0644; then
  if ! sshd -t >> "$LOG" 2>&1; then
    rm -f /etc/ssh/sshd_config.d/10-btw.conf
    fail "sshd rejects the configuration (see $LOG); left unchanged"
  fi
  if [ "$systemd" = 1 ]; then
    systemctl reload ssh >> "$LOG" 2>&1 || systemctl reload sshd >> "$LOG" 2>&1 || true
  elif [ -s /run/sshd.pid ]; then
    kill -HUP "$(cat /run/sshd.pid)" 2>/dev/null || true
  fi
  step sshd changed "password login off"
else
  step sshd ok
fi

# 6. fail2ban on SSH (reads the journal)
if put_file /etc/fail2ban/jail.d/btw.conf 0644 <<'EOF'; then
# Written by btw server bootstrap.
[DEFAULT]
bantime = 1h
findtime = 10m
maxretry = 5

[sshd]
enabled = true
backend = systemd
EOF
  f2b=changed
else
  f2b=ok
fi
if [ "$systemd" = 1 ]; then
  if ! systemctl is-enabled --quiet fail2ban 2>/dev/null; then systemctl enable fail2ban >> "$LOG" 2>&1; f2b=changed; fi
  if [ "$f2b" = changed ] || ! systemctl is-active --quiet fail2ban; then
    systemctl restart fail2ban >> "$LOG" 2>&1 || fail "fail2ban does not start (see $LOG)"
  fi
  step fail2ban "$f2b"
else
  step fail2ban "$f2b" "configured; not running (no systemd)"
fi

# 7. unattended security upgrades (Debian's 50unattended-upgrades limits them to security)
if put_file /etc/apt/apt.conf.d/20auto-upgrades 0644 <<'EOF'; then
APT::Periodic::Update-Package-Lists "1";
APT::Periodic::Unattended-Upgrade "1";
APT::Periodic::AutocleanInterval "7";
EOF
  step unattended-upgrades changed
else
  step unattended-upgrades ok
fi

# 8. the engine runs (and picked up a changed daemon.json)
# `docker info` exits 0 without a daemon; `docker version` does not.
engine_up() { docker version --format '{{.Server.Version}}' > /dev/null 2>&1; }
wait_engine() {
  i=0
  until engine_up; do
    i=$((i + 1))
    [ "$i" -le 60 ] || fail "the Docker engine does not answer after 60 s (see $LOG and /var/log/dockerd.log)"
    sleep 1
  done
}
if [ "$systemd" = 1 ]; then
  state=ok
  if ! systemctl is-enabled --quiet docker 2>/dev/null; then systemctl enable docker >> "$LOG" 2>&1; state=changed; fi
  if ! systemctl is-active --quiet docker; then
    systemctl start docker >> "$LOG" 2>&1 || fail "docker.service does not start (see $LOG)"
    state=changed
  elif [ "$restart_docker" = 1 ]; then
    systemctl restart docker >> "$LOG" 2>&1 || fail "docker.service does not restart (see $LOG)"
    state=changed
  fi
  wait_engine
  step docker-engine "$state"
else
  state=ok
  if engine_up && [ "$restart_docker" = 1 ]; then
    start-stop-daemon --stop --quiet --retry TERM/30/KILL/5 --pidfile /var/run/docker.pid --exec /usr/sbin/dockerd >> "$LOG" 2>&1 || true
    # the engine's own containerd must be gone too, or the next one hangs on its socket
    i=0
    while pgrep -x containerd > /dev/null 2>&1 && [ "$i" -lt 30 ]; do i=$((i + 1)); sleep 1; done
    rm -f /var/run/docker/containerd/containerd.sock
  fi
  if ! engine_up; then
    start-stop-daemon --start --background --oknodo --output /var/log/dockerd.log --exec /usr/sbin/dockerd >> "$LOG" 2>&1 ||
      fail "dockerd does not start (see /var/log/dockerd.log)"
    state=changed
  fi
  wait_engine
  step docker-engine "$state" "started by btw (no systemd)"
fi

# 9. versions btw needs
engine=$(docker version --format '{{.Server.Version}}' 2>/dev/null || true)
compose=$(docker compose version --short 2>/dev/null || true)
major=${engine%%.*}
case "$major" in '' | *[!0-9]*) fail "cannot read the Docker engine version ('$engine')" ;; esac
[ "$major" -ge "$MIN_ENGINE" ] || fail "Docker engine $engine is too old: btw needs >= $MIN_ENGINE"
compose=${compose#v}
cmajor=${compose%%.*}
crest=${compose#*.}
cminor=${crest%%.*}
case "$cmajor.$cminor" in *[!0-9.]* | .*) fail "Compose v2 is missing ('docker compose version' says '$compose')" ;; esac
if [ "$cmajor" -lt 2 ] || { [ "$cmajor" -eq 2 ] && [ "$cminor" -lt "$MIN_COMPOSE_MINOR" ]; }; then
  fail "Docker Compose $compose is too old: btw needs >= 2.$MIN_COMPOSE_MINOR"
fi
step versions ok "engine $engine, compose $compose"

printf 'btw-done changed=%s\n' "$changes"
