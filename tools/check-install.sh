#!/usr/bin/env bash
# check-install.sh BUILD_DIR - install both flavours into a scratch prefix and
# build a consumer with nothing but pkg-config (and with find_package), as a
# user would.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-build/check-install}
mkdir -p "$work"; work=$(cd "$work" && pwd)
prefix="$work/prefix"
rm -rf "$prefix"
for flavour in default ft; do
  opt=""; [ $flavour = ft ] && opt="-DRCGC_FREE_THREADED=ON"
  cmake -S "$top" -B "$work/$flavour" -DCMAKE_BUILD_TYPE=Release -DRCGC_BUILD_TESTS=OFF \
        -DRCGC_BUILD_EXAMPLES=OFF $opt >/dev/null
  cmake --build "$work/$flavour" -j "$(nproc)" >/dev/null
  cmake --install "$work/$flavour" --prefix "$prefix" >/dev/null
done
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig:$prefix/lib64/pkgconfig:$prefix/lib/x86_64-linux-gnu/pkgconfig"
libdir=$(pkg-config --variable=libdir rcgc)
for pc in rcgc rcgc_t; do
  cc -std=c11 -Wall -Werror -o "$work/consumer-$pc" "$top/examples/consumer.c" $(pkg-config --cflags --libs $pc)
  LD_LIBRARY_PATH="$libdir" "$work/consumer-$pc"
done
# SONAME is versioned
objdump -p "$libdir/librcgc.so" | grep -q 'SONAME *librcgc.so.0'
objdump -p "$libdir/librcgc_t.so" | grep -q 'SONAME *librcgc_t.so.0'
# CMake package
mkdir -p "$work/cmake-consumer"
cat > "$work/cmake-consumer/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.16)
project(consumer C)
find_package(rcgc REQUIRED)
add_executable(consumer "$top/examples/consumer.c")
target_link_libraries(consumer PRIVATE rcgc::rcgc_static)
add_executable(consumer_t "$top/examples/consumer.c")
target_link_libraries(consumer_t PRIVATE rcgc::rcgc_t_static)
CM
cmake -S "$work/cmake-consumer" -B "$work/cmake-consumer/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cmake-consumer/build" >/dev/null
"$work/cmake-consumer/build/consumer"
"$work/cmake-consumer/build/consumer_t"
echo "check-install: pkg-config and find_package consumers built and ran for rcgc and rcgc_t"
