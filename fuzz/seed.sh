#!/usr/bin/env bash
# Builds the starting corpora in fuzz/corpus/<target>/ from the shipped fixtures (not committed: regenerate).
set -euo pipefail
cd "$(dirname "$0")"
rm -rf corpus && mkdir -p corpus/container corpus/xml corpus/convert
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for f in ../fixtures/*.mbz; do
    b=$(basename "$f" .mbz)
    cp "$f" "corpus/container/$b"
    case "$f" in *.zip.mbz) continue ;; esac
    { printf '\001'; gzip -dc "$f"; } > "corpus/container/$b.tar"
    mkdir -p "$tmp/$b" && tar -xzf "$f" -C "$tmp/$b"
    cp "$tmp/$b/course/enrolments.xml" "corpus/xml/$b"
    { cat "$tmp/$b/course/enrolments.xml"; printf '\377'; cat "$tmp/$b/course/roles.xml"; printf '\377'
      cat "$tmp/$b/groups.xml"; } > "corpus/convert/$b"
done
# The bad-input corpus (scripts/bad-corpus.sh) seeds the container target.
find ../fixtures/bad -name '*.mbz' -size -1M -exec cp {} corpus/container/ \;
# Every committed regression input seeds its target too.
for t in container xml convert; do
    [ -d "regressions/$t" ] && cp regressions/$t/* "corpus/$t/" 2>/dev/null || true
done
ls corpus/* | head -40
