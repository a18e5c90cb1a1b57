#!/usr/bin/env bash
# Unpack NVIDIA's real userland (NVML library, nvidia-smi, MPS control daemon) from
# Debian's non-free archive into DEST, without installing anything system-wide.
#   tests/sim/fetch_nvidia_userland.sh build/nvidia
# Afterwards: DEST/lib/libnvidia-ml.so.1, DEST/bin/nvidia-cuda-mps-control, DEST/bin/nvidia-smi.
set -euo pipefail

dest=$(realpath -m "${1:?usage: $0 DEST}")
packages=(libnvidia-ml1 nvidia-cuda-mps nvidia-smi)

if [[ -x "$dest/bin/nvidia-cuda-mps-control" && -e "$dest/lib/libnvidia-ml.so.1" ]]; then
    exit 0
fi

work="$dest/.apt"
mkdir -p "$work/lists/partial" "$work/debs" "$dest/root" "$dest/bin" "$dest/lib"
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $suite main non-free" \
    > "$work/sources.list"
apt_opts=(-q -o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/nonexistent"
          -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::Archives=$work/debs" -o "APT::Sandbox::User=root")
apt-get "${apt_opts[@]}" update >/dev/null
(cd "$work/debs" && apt-get "${apt_opts[@]}" download "${packages[@]}" >/dev/null)
for deb in "$work"/debs/*.deb; do
    dpkg-deb -x "$deb" "$dest/root"
done

lib=$(find "$dest/root" -name 'libnvidia-ml.so.*.*' -type f | head -n 1)
ln -sfn "$lib" "$dest/lib/libnvidia-ml.so.1"
ln -sfn "$dest/root/usr/bin/nvidia-cuda-mps-control" "$dest/bin/nvidia-cuda-mps-control"
ln -sfn "$dest/root/usr/sbin/nvidia-cuda-mps-server" "$dest/bin/nvidia-cuda-mps-server"
ln -sfn "$dest/root/usr/lib/nvidia/current/nvidia-smi" "$dest/bin/nvidia-smi"
echo "NVIDIA userland $(basename "$lib" | sed 's/libnvidia-ml.so.//') unpacked under $dest"
