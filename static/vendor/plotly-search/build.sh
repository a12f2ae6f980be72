#!/bin/sh
# Rebuilds plotly-search.min.js from the npm registry (needs node and npm; nothing at run or test time does).
# The versions are pinned: plotly.js is the one the pip plotly package ships as the full bundle.
set -eu
PLOTLY_JS=4.1.1
ESBUILD=0.28.2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --ignore-scripts "plotly.js@$PLOTLY_JS" "esbuild@$ESBUILD" >/dev/null
cp "$here/index.js" .
# The flags of plotly.js's own esbuild-config.js (iife, global Plotly, es2016, its regl alias), minified.
./node_modules/.bin/esbuild index.js --bundle --minify --format=iife --global-name=Plotly --target=es2016 \
  --define:global=window --define:define.amd=false --alias:regl=@plotly/regl --legal-comments=none \
  --log-level=warning --outfile=bundle.js
{ printf '/* plotly.js v%s (MIT License, Plotly Technologies Inc.: LICENSE beside this file): core, bar,\n   heatmap, parcoords. Built by static/vendor/plotly-search/build.sh from index.js. */\n' "$PLOTLY_JS"; cat bundle.js; } \
  > "$here/plotly-search.min.js"
cp node_modules/plotly.js/LICENSE "$here/LICENSE"
