#!/usr/bin/env bash
# What --fsync costs: dotnet-quant quantize with and without it, on COUNT small files (16K float32 = 64 KiB each) into
# one folder and on one file of SIZE MiB, alternating, ROUNDS rounds. Run on a real disk: on tmpfs fsync does nothing.
# `sync` runs before each timed run, so that one run's writeback is not paid by the next.
# Usage: build/bench/fsync.sh [COUNT] [SIZE_MIB] [ROUNDS]        (defaults 200 256 3; work folder: $TMPDIR or /var/tmp)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
count="${1:-200}" size_mib="${2:-256}" rounds="${3:-3}"
work="$(mktemp -d "${TMPDIR:-/var/tmp}/quantshell-fsync.XXXXXX")"
trap 'rm -rf "$work"' EXIT
fs="$(stat -f -c %T "$work")"
if [ "$fs" = tmpfs ]; then echo "fsync.sh: $work is on tmpfs, where fsync does nothing; set TMPDIR to a folder on a disk" >&2; exit 1; fi
cd "$root"
dotnet build src/QuantShell.Cli -c Release --nologo -v q >/dev/null
tool=(dotnet "$root/src/QuantShell.Cli/bin/Release/net10.0/dotnet-quant.dll")

# A float32 vector .npy of N zeros: the 64-byte aligned header, then the data.
npy() {
  local n="$1" dict
  dict="{'descr': '<f4', 'fortran_order': False, 'shape': ($n,), }"
  local pad=$(( (64 - (10 + ${#dict} + 1) % 64) % 64 ))
  { printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $(( (${#dict} + pad + 1) % 256 )))\\x$(printf %02x $(( (${#dict} + pad + 1) / 256 )))";
    printf '%s%*s\n' "$dict" "$pad" ''; head -c $(( n * 4 )) /dev/zero; } > "$2"
}
mkdir -p "$work/small"
for i in $(seq -w 1 "$count"); do npy 16384 "$work/small/t$i.npy"; done
npy $(( size_mib * 262144 )) "$work/big.npy"
"${tool[@]}" inspect "$work/big.npy" >/dev/null

run() { # prints the seconds one quantize run takes
  sync
  local start end
  start=$(date +%s.%N)
  "${tool[@]}" quantize "$@" --method symmetric --threshold 1 --force >/dev/null
  end=$(date +%s.%N)
  awk "BEGIN{printf \"%.3f\", $end - $start}"
}
echo "file system: $fs ($(df -h --output=source "$work" | tail -1 | tr -d ' ')); $count files of 64 KiB; one file of $size_mib MiB; $rounds rounds"
for round in $(seq 1 "$rounds"); do
  small_plain=$(run "$work"/small/*.npy --output-directory "$work/out")
  small_sync=$(run "$work"/small/*.npy --output-directory "$work/out" --fsync)
  big_plain=$(run "$work/big.npy" --output-path "$work/big.q.npy")
  big_sync=$(run "$work/big.npy" --output-path "$work/big.q.npy" --fsync)
  printf 'round %d: %d small files %s s, with --fsync %s s (+%.2f ms a file) | %d MiB %s s, with --fsync %s s (%.2fx)\n' \
    "$round" "$count" "$small_plain" "$small_sync" "$(awk "BEGIN{print ($small_sync - $small_plain) * 1000 / $count}")" \
    "$size_mib" "$big_plain" "$big_sync" "$(awk "BEGIN{print $big_sync / $big_plain}")"
done
