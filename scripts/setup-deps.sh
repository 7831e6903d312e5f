#!/usr/bin/env bash
# Installs what the build needs on a fresh Debian 12 / Ubuntu 22.04+ machine, skipping whatever is present:
#   - Debian packages: OpenBLAS (linked ahead of libmlx so its sgemm wins), the zlib, libpng and libjpeg-turbo
#     headers (the image codecs and gzip reading link the system libraries; libjpeg-dev is libjpeg62-turbo-dev on
#     Debian, libjpeg-turbo8-dev on Ubuntu), FFmpeg's libavformat, libavcodec (with libx264), libavutil and
#     libswscale headers (video files), unzip, python3-pip;
#   - the MLX engine wheel named by MLX_WHEEL==MLX_VERSION (from the Makefile), unpacked under .deps/ with the wheel's
#     own folder layout (libmlx finds its bundled libraries through RPATH $ORIGIN/../../<wheel>.libs);
#   - .deps/mlx: a link to the unpacked mlx/ folder, the one path Package.swift knows.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${MLX_WHEEL:?set MLX_WHEEL (e.g. mlx-cpu)}"
: "${MLX_VERSION:?set MLX_VERSION (e.g. 0.32.4)}"

need_apt=()
[ -e /usr/lib/x86_64-linux-gnu/libopenblas.so ] || [ -e /usr/lib/aarch64-linux-gnu/libopenblas.so ] || need_apt+=(libopenblas-dev)
[ -e /usr/include/zlib.h ] || need_apt+=(zlib1g-dev)
[ -e /usr/include/png.h ] || need_apt+=(libpng-dev)
[ -e /usr/include/jpeglib.h ] || [ -e /usr/include/x86_64-linux-gnu/jpeglib.h ] \
  || [ -e /usr/include/aarch64-linux-gnu/jpeglib.h ] || need_apt+=(libjpeg-dev)
for lib in libavformat libavcodec libavutil libswscale; do
  [ -e "/usr/include/$lib" ] || [ -e "/usr/include/x86_64-linux-gnu/$lib" ] \
    || [ -e "/usr/include/aarch64-linux-gnu/$lib" ] || need_apt+=("$lib-dev")
done
command -v unzip >/dev/null || need_apt+=(unzip)
python3 -m pip --version >/dev/null 2>&1 || need_apt+=(python3-pip)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

dest=".deps/${MLX_WHEEL}-${MLX_VERSION}"
if [ ! -e "$dest/mlx/lib/libmlx.so" ] && [ ! -e "$dest/mlx/lib/libmlx.dylib" ]; then
  echo "setup: fetching ${MLX_WHEEL}==${MLX_VERSION}"
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "${MLX_WHEEL}==${MLX_VERSION}"
  rm -rf "$dest.partial" && mkdir -p "$dest.partial"
  unzip -q "$tmp"/*.whl -d "$dest.partial"
  rm -rf "$tmp" "$dest" && mv "$dest.partial" "$dest"
fi
ln -sfn "${MLX_WHEEL}-${MLX_VERSION}/mlx" .deps/mlx
