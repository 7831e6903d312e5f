#!/usr/bin/env bash
# Checks that the Swift sources are as swift-format (shipped with the toolchain) leaves them under .swift-format, and
# that no line passes 120 columns (a comment holding only a URL may). Fix with `make format`.
set -euo pipefail
cd "$(dirname "$0")/.."
formatter=(swift-format)
command -v swift-format >/dev/null || formatter=(swift format)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
git ls-files '*.swift' > "$scratch/files"
while read -r file; do mkdir -p "$scratch/tree/$(dirname "$file")" && cp "$file" "$scratch/tree/$file"; done < "$scratch/files"
(cd "$scratch/tree" && "${formatter[@]}" format -i -r --configuration "$OLDPWD/.swift-format" .)
status=0
while read -r file; do
  if ! cmp -s "$file" "$scratch/tree/$file"; then echo "not formatted: $file (make format)"; status=1; fi
done < "$scratch/files"
long=$(xargs awk 'length > 120 && !/^[[:space:]]*\/\/+[[:space:]]*https?:\/\/[^[:space:]]+$/ { print FILENAME ":" FNR ": " length " columns" }' \
  < "$scratch/files")
if [ -n "$long" ]; then echo "$long"; echo "lines over 120 columns: $(echo "$long" | wc -l)"; status=1; fi
[ $status = 0 ] && echo "format: $(wc -l < "$scratch/files") Swift files as .swift-format leaves them, every line ≤ 120 columns"
exit $status
