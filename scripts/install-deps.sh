#!/usr/bin/env bash
# Installs the Debian 12 packages evring builds with, and only those that are missing.
# Idempotent and quick when everything is present: one dpkg-query, no network.
#   scripts/install-deps.sh          what `make`, `make test` and the sanitizer builds need
#   scripts/install-deps.sh --fuzz   and clang with libFuzzer, for `make fuzz` / `make fuzz-ci`
#   scripts/install-deps.sh --bench  and the peers `evring-bench compare` measures that the
#                                    build never requires (iceoryx); if they cannot be
#                                    installed the bench still runs and says how to add them
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

packages=(
  build-essential cmake g++ make
  libboost-dev libconcurrentqueue-dev libbenchmark-dev libgtest-dev
  libcli11-dev libfmt-dev libspdlog-dev nlohmann-json3-dev
  clang-format gnuplot-nox
  libnats-dev nats-server pkg-config libzstd-dev
  help2man # `make package`'s man pages (its dpkg-shlibdeps is dpkg-dev's, in build-essential)
)
bench_packages=(iceoryx libiceoryx-posh-dev libiceoryx-hoofs-dev)
optional=false
if [[ "${1:-}" == "--bench" ]]; then
  packages+=("${bench_packages[@]}")
  optional=true
elif [[ "${1:-}" == "--fuzz" ]]; then
  packages+=(clang-14 libclang-rt-14-dev)
fi

# dpkg-query prints one status line per package it knows; unknown ones go to stderr.
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${packages[@]}" 2>/dev/null |
  awk '$2 == "installed" { print $1 }' || true)

missing=()
for package in "${packages[@]}"; do
  grep -qx -- "$package" <<<"$installed" || missing+=("$package")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

install_command="apt-get install -y --no-install-recommends ${missing[*]}"
if ((EUID != 0)); then
  echo "evring needs these Debian packages: ${missing[*]}" >&2
  echo "install them as root, then run make again:" >&2
  echo "  sudo apt-get update && sudo $install_command" >&2
  exit 1
fi

echo "installing ${missing[*]}"
apt-get update -q
if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
  $optional || exit 1
  # The bench's optional peers may be what failed: install the required ones alone.
  required=()
  for package in "${missing[@]}"; do
    [[ " ${bench_packages[*]} " == *" $package "* ]] || required+=("$package")
  done
  if ((${#required[@]} > 0)); then
    apt-get install -y -q --no-install-recommends "${required[@]}"
  fi
  echo "could not install ${bench_packages[*]}: evring-bench compare will skip iceoryx" >&2
fi
