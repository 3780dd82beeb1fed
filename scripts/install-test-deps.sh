#!/usr/bin/env bash
# Installs the system packages the test suite uses (Debian/Ubuntu, as root):
# real registries, independent image tools (oracles) and image builders.
set -euo pipefail
PKGS=(docker-registry skopeo umoci mmdebstrap debootstrap apache2-utils jq curl ca-certificates tinyproxy
      debian-archive-keyring zstd xz-utils binutils qemu-user-static binfmt-support arch-test
      python3 busybox-static libcap2-bin  # libcap2-bin: setcap, the oracle of %caps xattrs
      rpm createrepo-c dnf gnupg db5.3-util  # RPM backend: rpm oracle, rpmbuild, createrepo_c, dnf --installroot, db5.3_load
      docker.io podman util-linux)  # engine tests: dockerd (+ containerd, runc), podman system service, setpriv
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || true
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
