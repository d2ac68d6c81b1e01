#!/usr/bin/env bash
# Builds the release binary and generates the man page and shell completions into target/assets/, for
# `cargo deb` (see [package.metadata.deb] in Cargo.toml) or a manual install.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked
mkdir -p target/assets
bin=target/release/mbz-enrol
"$bin" manpage > target/assets/mbz-enrol.1
"$bin" completions bash > target/assets/mbz-enrol.bash
"$bin" completions zsh > target/assets/_mbz-enrol
"$bin" completions fish > target/assets/mbz-enrol.fish
echo "assets in target/assets; now: cargo deb --no-build"
