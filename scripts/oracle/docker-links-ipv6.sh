#!/usr/bin/env bash
# Capture what a real Docker 20.10 engine writes for legacy links and published ports when IPv6
# is enabled: the IPv6 counterpart of tests/unit/fixtures/docker-20.10-links-oracle.txt.
#
#   scripts/oracle/docker-links-ipv6.sh [OUTPUT]     (as root; OUTPUT defaults to stdout)
#
# It runs /usr/sbin/dockerd (docker.io 20.10) inside a network namespace of its own (labdocker6),
# with its own data-root, exec-root, socket and managed containerd under /tmp/labdocker6, imports
# the debootstrap rootfs as lab/debian:bookworm, builds lab/debian:envtest on top, runs the cases
# and prints every command (printf %q) with its verbatim output. Nothing is sent outside the
# namespace (it has no uplink) and no rule of the machine's own namespace is touched. On exit it
# stops the daemon it started (by PID), unmounts what that daemon left, deletes the namespace and
# /tmp/labdocker6. A rerun first cleans up what an interrupted run left behind.
set -euo pipefail

NS=labdocker6
BASE=/tmp/labdocker6
ROOTFS=${ROOTFS:-/var/cache/seed-container-net/rootfs-bookworm}
DOCKERD=/usr/sbin/dockerd
DOCKER=/usr/bin/docker
OUT=${1:-}
DAEMON_ARGS=(--icc=false --ipv6 --fixed-cidr-v6=fd00:dead:beef::/64 --experimental --ip6tables)
PLUMBING_ARGS=(--data-root "$BASE/root" --exec-root "$BASE/exec" --pidfile "$BASE/docker.pid"
  -H "unix://$BASE/docker.sock" --config-file "$BASE/daemon.json")
ENVIRON='tr "\\0" "\\n" < /proc/1/environ | sort'

if [ "$(id -u)" != 0 ]; then echo "$0: run as root" >&2; exit 2; fi
for tool in "$DOCKERD" "$DOCKER" nsenter ip iptables-save ip6tables-save findmnt tar; do
  command -v "$tool" >/dev/null || { echo "$0: $tool not found" >&2; exit 2; }
done
[ -d "$ROOTFS" ] || { echo "$0: no rootfs at $ROOTFS" >&2; exit 2; }

export DOCKER_HOST="unix://$BASE/docker.sock" DOCKER_CONFIG="$BASE/cli" DOCKER_BUILDKIT=0
log() { echo "docker-links-ipv6: $*" >&2; }

# A PID is ours only if its command line names our own directory.
ours() { [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF "$BASE/"; }

cleanup() {
  set +e
  if [ -S "$BASE/docker.sock" ] && "$DOCKER" version >/dev/null 2>&1; then
    ids=$("$DOCKER" ps -aq)
    [ -n "$ids" ] && "$DOCKER" rm -f $ids >/dev/null 2>&1
    "$DOCKER" network rm labnet6 >/dev/null 2>&1
  fi
  local pid=''
  [ -f "$BASE/docker.pid" ] && pid=$(cat "$BASE/docker.pid")
  [ -z "$pid" ] && pid=${DOCKERD_PID:-}
  if [ -n "$pid" ] && ours "$pid"; then
    kill -TERM "$pid"
    for _ in $(seq 60); do ours "$pid" || break; sleep 0.5; done
    ours "$pid" && kill -KILL "$pid"
  fi
  # The managed containerd and its shims are ours if their command line names $BASE.
  for p in $(pgrep -f 'containerd' || true); do
    ours "$p" && kill -TERM "$p"
  done
  sleep 1
  for p in $(pgrep -f 'containerd' || true); do
    ours "$p" && kill -KILL "$p"
  done
  findmnt -rn -o TARGET | grep -E "^$BASE(/|$)" | sort -r | while read -r m; do umount -l "$m"; done
  ip netns list | grep -qE "^$NS( |$)" && ip netns del "$NS"
  rm -rf --one-file-system "$BASE"
  [ -n "${TMPOUT:-}" ] && rm -f "$TMPOUT"
}

cleanup
TMPOUT=$(mktemp /tmp/docker-links-ipv6.XXXXXX)
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- daemon in its own network namespace ---------------------------------------------------
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
mkdir -p "$BASE/root" "$BASE/exec" "$BASE/cli"
echo '{}' >"$BASE/daemon.json"
log "starting dockerd in netns $NS"
nsenter --net="/run/netns/$NS" "$DOCKERD" "${PLUMBING_ARGS[@]}" "${DAEMON_ARGS[@]}" \
  >"$BASE/dockerd.log" 2>&1 &
DOCKERD_PID=$!
for _ in $(seq 120); do
  "$DOCKER" version >/dev/null 2>&1 && break
  if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
    log "dockerd exited:"; tail -n 30 "$BASE/dockerd.log" >&2; exit 1
  fi
  sleep 0.5
done
"$DOCKER" version >/dev/null || { log "dockerd did not answer:"; tail -n 30 "$BASE/dockerd.log" >&2; exit 1; }

# --- images ----------------------------------------------------------------------------------
log "importing $ROOTFS as lab/debian:bookworm"
tar -C "$ROOTFS" --numeric-owner -cf "$BASE/rootfs.tar" .
"$DOCKER" import "$BASE/rootfs.tar" lab/debian:bookworm >/dev/null
rm -f "$BASE/rootfs.tar"
mkdir -p "$BASE/build"
printf 'FROM lab/debian:bookworm\nENV IMG_VAR=from-image\nEXPOSE 8080/tcp\n' >"$BASE/build/Dockerfile"
"$DOCKER" build -q -t lab/debian:envtest "$BASE/build" >/dev/null

# --- output helpers --------------------------------------------------------------------------
exec 3>"$TMPOUT"
emit() { printf '%s\n' "$@" >&3; }
# run CMD...: "$ " + the command shell-quoted, its stdout+stderr verbatim, a blank line.
# A failing command keeps the run going: its exit status is noted after its output and left
# in LAST_RC.
LAST_RC=0
run() {
  local q out
  q=$(printf '%q ' "$@"); q=${q% }
  emit "\$ $q"
  LAST_RC=0
  out=$("$@" 2>&1) || LAST_RC=$?
  if [ -n "$out" ]; then emit "$out"; fi
  if [ "$LAST_RC" != 0 ]; then emit "[exit status $LAST_RC]"; fi
  emit ""
}
section() { emit "======== $*"; }
sub() { emit "--- $*"; }

SERVER=$("$DOCKER" version -f '{{.Server.Version}} API {{.Server.APIVersion}}')
PKG=$(dpkg-query -W -f '${Version}' docker.io)
emit "# Real Docker legacy-link output with IPv6 enabled, captured $(date -u +%Y-%m-%d) on Debian $(cut -d. -f1 /etc/debian_version), docker.io $PKG (dockerd ${DAEMON_ARGS[*]}, run in netns $NS via nsenter --net)."
emit "# Commands are shown shell-quoted (printf %q). Generator: scripts/oracle/docker-links-ipv6.sh"
emit "# Note: env shown from /proc/1/environ because dash/sh drops names containing '.' (e.g. DB.ALIAS_2_*) when exec'ing env."
emit ""
emit "### dockerd: server $SERVER, daemon args: ${DAEMON_ARGS[*]} (--ip6tables accepted with --experimental; --iptables=true and --userland-proxy=true left at their defaults)"
emit "### plumbing args (not part of the semantics): ${PLUMBING_ARGS[*]} (daemon.json is {}; managed containerd)"
emit "### image lab/debian:envtest = lab/debian:bookworm (imported debootstrap rootfs, no ENV) + 'ENV IMG_VAR=from-image' + 'EXPOSE 8080/tcp'"
emit "### the namespace has only lo and docker's bridges: no uplink, no default route"
emit ""

IPFMT='IP={{.NetworkSettings.IPAddress}} GlobalIPv6Address={{.NetworkSettings.GlobalIPv6Address}} GlobalIPv6PrefixLen={{.NetworkSettings.GlobalIPv6PrefixLen}} IPv6Gateway={{.NetworkSettings.IPv6Gateway}} LinkLocalIPv6Address={{.NetworkSettings.LinkLocalIPv6Address}}'

# --- 1 -----------------------------------------------------------------------------------------
log "case 1"
section "1. source container (exposes 5432/tcp + 53/udp, env vars set)"
run "$DOCKER" run -d --name labdb --hostname dbhost --expose 5432/tcp --expose 53/udp \
  -e POSTGRES_PASSWORD=secret -e 'MULTI_WORD=a b  c' -e EMPTY= lab/debian:envtest sleep 3600
run "$DOCKER" inspect -f "$IPFMT"' Hostname={{.Config.Hostname}} Env={{json .Config.Env}} ExposedPorts={{json .Config.ExposedPorts}}' labdb

# --- 2 -----------------------------------------------------------------------------------------
log "case 2"
section "2. recipient with hyphenated alias: --link labdb:my-db"
run "$DOCKER" run -d --name labweb --link labdb:my-db lab/debian:bookworm sleep 3600
run "$DOCKER" inspect -f 'IP={{.NetworkSettings.IPAddress}} GlobalIPv6Address={{.NetworkSettings.GlobalIPv6Address}} Links={{json .HostConfig.Links}}' labweb
sub "environment of PID 1 in labweb (/proc/1/environ, sorted)"
run "$DOCKER" exec labweb sh -c "$ENVIRON"
sub "/etc/hosts inside labweb"
run "$DOCKER" exec labweb cat /etc/hosts
sub "/etc/hosts inside labdb (source) after link"
run "$DOCKER" exec labdb cat /etc/hosts
sub "which address glibc gives first for the link alias inside labweb (/etc/hosts has a line per family)"
run "$DOCKER" exec labweb getent ahosts my-db

# --- 3 -----------------------------------------------------------------------------------------
log "case 3"
section "3. second recipient with the default alias: --link labdb"
run "$DOCKER" run -d --name labweb2 --link labdb lab/debian:bookworm sleep 3600
run "$DOCKER" inspect -f 'IP={{.NetworkSettings.IPAddress}} GlobalIPv6Address={{.NetworkSettings.GlobalIPv6Address}} Links={{json .HostConfig.Links}}' labweb2
sub "environment of PID 1 in labweb2 (/proc/1/environ, sorted)"
run "$DOCKER" exec labweb2 sh -c "$ENVIRON"
sub "/etc/hosts inside labweb2"
run "$DOCKER" exec labweb2 cat /etc/hosts

# --- 4 -----------------------------------------------------------------------------------------
log "case 4"
section "4. link to a source that publishes ports (0.0.0.0 default, [::], 127.0.0.1, udp)"
PUBLISH=(-p 18080:80 -p '[::]:18081:81' -p 127.0.0.1:15432:5432 -p 1053:53/udp)
run "$DOCKER" run -d --name labpub --expose 80 "${PUBLISH[@]}" lab/debian:bookworm sleep 3600
if [ "$LAST_RC" != 0 ]; then
  # Keep going without the forms that are rejected: try each one alone, drop the failures.
  "$DOCKER" rm -f labpub >/dev/null 2>&1 || true
  KEEP=()
  for ((i = 0; i < ${#PUBLISH[@]}; i += 2)); do
    if "$DOCKER" run -d --name labprobe "${PUBLISH[i]}" "${PUBLISH[i + 1]}" lab/debian:bookworm true >/dev/null 2>&1; then
      KEEP+=("${PUBLISH[i]}" "${PUBLISH[i + 1]}")
    fi
    "$DOCKER" rm -f labprobe >/dev/null 2>&1 || true
  done
  sub "retried without the rejected form(s)"
  run "$DOCKER" run -d --name labpub --expose 80 "${KEEP[@]}" lab/debian:bookworm sleep 3600
fi
run "$DOCKER" inspect -f 'IP={{.NetworkSettings.IPAddress}} GlobalIPv6Address={{.NetworkSettings.GlobalIPv6Address}}' labpub
run "$DOCKER" inspect -f '{{json .NetworkSettings.Ports}}' labpub
sub "environment of a recipient linked with --link labpub:pub (/proc/1/environ, sorted)"
run "$DOCKER" run --rm --link labpub:pub lab/debian:bookworm sh -c "$ENVIRON"

# --- 5 -----------------------------------------------------------------------------------------
log "case 5"
section "5. user-defined dual-stack network (embedded DNS, no links)"
run "$DOCKER" network create --ipv6 --subnet 172.30.0.0/24 --subnet fd00:cafe::/64 labnet6
run "$DOCKER" network inspect -f '{{json .IPAM.Config}} EnableIPv6={{.EnableIPv6}}' labnet6
run "$DOCKER" run -d --name labu1 --network labnet6 --network-alias u1alias lab/debian:bookworm sleep 3600
run "$DOCKER" run -d --name labu2 --network labnet6 lab/debian:bookworm sleep 3600
run "$DOCKER" inspect -f '{{json .NetworkSettings.Networks}}' labu1
run "$DOCKER" inspect -f '{{json .NetworkSettings.Networks}}' labu2
sub "/etc/hosts inside labu1"
run "$DOCKER" exec labu1 cat /etc/hosts
sub "/etc/resolv.conf inside labu1"
run "$DOCKER" exec labu1 cat /etc/resolv.conf
sub "name resolution from labu1 (embedded DNS 127.0.0.11)"
if "$DOCKER" exec labu1 sh -c 'command -v getent' >/dev/null 2>&1; then
  run "$DOCKER" exec labu1 getent ahosts labu2
  run "$DOCKER" exec labu1 getent ahostsv6 labu2
  run "$DOCKER" exec labu1 getent ahostsv4 labu2
  run "$DOCKER" exec labu1 getent ahosts u1alias
else
  emit "(getent is not in the rootfs: name resolution not shown)"
  emit ""
fi

# --- 6 -----------------------------------------------------------------------------------------
log "case 6"
section "6. firewall, addresses and routes of dockerd's netns after all of the above"
sub "iptables-save inside dockerd's netns"
run ip netns exec "$NS" iptables-save
sub "ip6tables-save inside dockerd's netns"
run ip netns exec "$NS" ip6tables-save
sub "IPv6 addresses of docker0"
run ip netns exec "$NS" ip -6 addr show docker0
sub "IPv6 routes"
run ip netns exec "$NS" ip -6 route
sub "IPv6 forwarding"
run ip netns exec "$NS" sysctl net.ipv6.conf.all.forwarding

exec 3>&-
# Drop the blank line that closes the last block, as the IPv4 oracle ends on its last output.
sed -i -e '${/^$/d}' "$TMPOUT"
if [ -n "$OUT" ]; then
  cp "$TMPOUT" "$OUT"
  log "wrote $OUT"
else
  cat "$TMPOUT"
fi
