#!/usr/bin/env bash
# Screenshots of the HTML batch report (issue 21) at 1280 and 1920 px, as headless Chromium renders them:
# docs/report-1280.png and docs/report-1920.png. Runs a small batch on fixtures/ with a failing archive whose
# course is read before it fails, an unreadable one, a file that is not an archive and a long path, so that the
# pictures show every kind of row. Needs chromium (CHROMIUM=/path/to/it to choose another).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
chromium=${CHROMIUM:-chromium}
command -v "$chromium" >/dev/null || { echo "report-screenshots: $chromium not found (set CHROMIUM)" >&2; exit 2; }
cd "$root"
cargo build --locked --quiet
work=$(mktemp -d /tmp/mbz-report-XXXXXX)
trap 'rm -rf "$work"' EXIT
in=$work/backups
long=$in/2026-2027/faculty-of-sciences/department-of-mathematics/licence-3
mkdir -p "$in/M2" "$long"
cp fixtures/coh_basic.mbz fixtures/coh_group.mbz "$in/"
cp fixtures/db_sync.zip.mbz "$in/M2/"
cp fixtures/noconvert.mbz "$long/backup-moodle2-course-noconvert-20260630-2359-nu.mbz"
cp fixtures/bad/xml_enrol_id_text.mbz "$in/M2/broken-enrolments.mbz"
cp fixtures/bad/truncated_gzip.mbz "$in/download-cut.mbz"
echo "course list" > "$in/README.txt"
# The report records the folders as given: relative names keep the pictures free of this run's temp path.
(cd "$work" && "$root/target/debug/mbz-enrol" batch backups -o converted --until 2027-08-31 \
    --timezone Europe/Paris --verify --report report.html -j 2) || true
test -s "$work/report.html"
for width in 1280 1920; do
    "$chromium" --headless --no-sandbox --disable-gpu --screenshot="$root/docs/report-$width.png" \
        --window-size="$width,1250" "file://$work/report.html" 2>/dev/null
    echo "docs/report-$width.png"
done
