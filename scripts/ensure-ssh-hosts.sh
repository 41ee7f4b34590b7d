#!/usr/bin/env bash
# Make what the host tests need available: Debian's openssh-server (a real sshd for each
# test host), iproute2 and util-linux (network and mount namespaces: ip, unshare, nsenter),
# and the packages Roost's base recipe installs (systemd-timesyncd, unattended-upgrades,
# nftables), so that a test host, an overlay of this machine, has them already and needs no
# network to apply the recipe. Nothing is started here: each test host starts its own sshd.
set -euo pipefail
need=()
command -v sshd >/dev/null 2>&1 || [[ -x /usr/sbin/sshd ]] || need+=(openssh-server)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v nft >/dev/null 2>&1 || [[ -x /usr/sbin/nft ]] || need+=(nftables)
for pkg in systemd-timesyncd unattended-upgrades; do
  dpkg-query -W -f '${db:Status-Abbrev}' "$pkg" 2>/dev/null | grep -q '^ii' || need+=("$pkg")
done
if (( ${#need[@]} )); then
  echo "installing Debian packages for the host tests: ${need[*]}" >&2
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${need[@]}" >/dev/null
fi
for tool in unshare nsenter ssh-keygen; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$tool is missing: apt-get install util-linux openssh-client" >&2; exit 1; }
done
echo "ssh test hosts ready: $(/usr/sbin/sshd -V 2>&1 | head -1)" >&2
