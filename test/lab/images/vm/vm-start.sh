#!/bin/sh
# PID 1's child in a lab VM (docker run --init puts tini above it): installs the lab key,
# starts the inner Docker engine (unless BTW_LAB_DOCKER=0) and sshd, and on SIGTERM stops
# the engine first so inner containers and their cgroups are cleaned up, not just killed.
set -eu

if [ -n "${BTW_LAB_AUTHORIZED_KEY:-}" ]; then
  printf '%s\n' "$BTW_LAB_AUTHORIZED_KEY" > /root/.ssh/authorized_keys
  chmod 600 /root/.ssh/authorized_keys
fi

# The lab registry speaks plain HTTP; the engine must be told so before it starts.
if [ -n "${BTW_LAB_REGISTRY:-}" ] && [ ! -s /etc/docker/daemon.json ]; then
  printf '{\n  "insecure-registries": ["%s"],\n  "shutdown-timeout": 5\n}\n' "$BTW_LAB_REGISTRY" \
    > /etc/docker/daemon.json
fi

mkdir -p /run/sshd
dockerd_pid=""
if [ "${BTW_LAB_DOCKER:-1}" = 1 ]; then
  dockerd >> /var/log/dockerd.log 2>&1 &
  dockerd_pid=$!
fi
/usr/sbin/sshd -D -e 2>> /var/log/sshd.log &
sshd_pid=$!

stop() {
  kill -TERM "$sshd_pid" 2>/dev/null || true
  if [ -n "$dockerd_pid" ]; then kill -TERM "$dockerd_pid" 2>/dev/null || true; fi
  wait
  exit 0
}
trap stop TERM INT
# `wait` returns when a trapped signal arrives; loop so a child's own exit does not end
# the VM while the other still runs.
while kill -0 "$sshd_pid" 2>/dev/null; do wait "$sshd_pid" || true; done
