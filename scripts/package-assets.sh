#!/usr/bin/env bash
# Builds the release binary and generates the man pages (one per command) and shell completions into
# target/assets/, for `cargo deb` (see [package.metadata.deb] in Cargo.toml) or a manual install.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked
rm -rf target/assets
mkdir -p target/assets
bin=target/release/mbz-enrol
"$bin" manpage --dir target/assets/man
"$bin" completions bash > target/assets/mbz-enrol.bash
"$bin" completions zsh > target/assets/_mbz-enrol
"$bin" completions fish > target/assets/mbz-enrol.fish
echo "assets in target/assets; now: cargo deb --no-build"
