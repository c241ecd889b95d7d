#!/usr/bin/env bash
# Usage: shrink_screenshots.sh FOLDER
# Copies the dashboards' screenshots in FOLDER (PAGE-desktop.png,
# PAGE-phone.png, and the dark theme's overview-dark.png, chain-dark.png,
# as scripts/lib/docs_screenshots.py makes them) into docs/screenshots/, shrunk for the repository: at most 800 px wide, 48
# colours (ImageMagick's `convert`, Debian package imagemagick).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
from="${1:?usage: shrink_screenshots.sh FOLDER (see scripts/screenshots)}"
to="$root/docs/screenshots"
convert=/usr/bin/convert # Debian's, not another program of that name earlier on the PATH
[ -x "$convert" ] || { echo "$convert not found: install imagemagick" >&2; exit 1; }
mkdir -p "$to"
for page in overview chain node nodes profiling reputation benchmarks; do
    for size in desktop phone; do
        "$convert" "$from/$page-$size.png" -resize '800x>' -strip +dither -colors 48 "PNG8:$to/$page-$size.png"
    done
done
for page in overview chain; do
    "$convert" "$from/$page-dark.png" -resize '800x>' -strip +dither -colors 48 "PNG8:$to/$page-dark.png"
done
du -ch "$to"/*.png | tail -1
