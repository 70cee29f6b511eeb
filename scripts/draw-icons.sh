#!/bin/sh
# Redraws the app icons in web/public/icons/ (committed, so builds need no image tools):
# a ">_" prompt in the accent colour on the dark background. Needs ImageMagick 6 (apt-get install imagemagick).
#   icon-192.png, icon-512.png: the manifest's "any" icons (rounded tile)
#   icon-maskable-512.png: full bleed, glyph inside the central 70 % (the safe zone is the central 80 % circle)
#   apple-touch-icon.png: 180x180, opaque (iOS rounds the corners); favicon-48.png: the browser tab
set -eu
cd "$(dirname "$0")/../web/public/icons"
C=${CONVERT:-convert}
draw_any() { s=$1; out=$2; r=$((s*22/100))
  $C -size ${s}x${s} xc:none -fill '#111111' -draw "roundrectangle 0,0 $((s-1)),$((s-1)) $r,$r" \
    -stroke '#7cc4ff' -strokewidth $((s*9/100)) -fill none \
    -draw "stroke-linecap round stroke-linejoin round polyline $((s*26/100)),$((s*30/100)) $((s*46/100)),$((s*50/100)) $((s*26/100)),$((s*70/100))" \
    -stroke none -fill '#e6e6e6' -draw "roundrectangle $((s*54/100)),$((s*63/100)) $((s*76/100)),$((s*72/100)) $((s*3/100)),$((s*3/100))" \
    -strip PNG32:$out; }
# $3: the glyph's scale in percent of the square, centred.
draw_full() { s=$1; out=$2; k=$3; o=$(( (100-k)/2 ))
  p() { echo $(( s*(o*100 + $1*k)/10000 )); }
  $C -size ${s}x${s} xc:'#111111' \
    -stroke '#7cc4ff' -strokewidth $((s*9*k/10000)) -fill none \
    -draw "stroke-linecap round stroke-linejoin round polyline $(p 26),$(p 30) $(p 46),$(p 50) $(p 26),$(p 70)" \
    -stroke none -fill '#e6e6e6' -draw "roundrectangle $(p 54),$(p 63) $(p 76),$(p 72) $((s*3*k/10000)),$((s*3*k/10000))" \
    -strip PNG24:$out; }
draw_any 192 icon-192.png
draw_any 512 icon-512.png
draw_full 512 icon-maskable-512.png 70
draw_full 180 apple-touch-icon.png 100
draw_any 48 favicon-48.png
