#!/usr/bin/env bash
# Screenshots of the live console during a real run, for the README:
# `kvdash run configs/advanced-1.json` (hard partitions at 5-8 s and
# 12-15 s, the leader killed at 20 s) in a detached tmux session of
# 100x30, captured with colours (`tmux capture-pane -e`) during the second
# partition, after the kill, and at the end, then rendered to PNG by
# scripts/ansi2png.py.
#
#   scripts/screenshots.sh [OUTDIR]        (default: screenshots/)
#
# Needs tmux, python3 with Pillow (installed with pip if missing) and the
# DejaVu fonts. Not part of the build.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=${1:-screenshots}
config=${CONFIG:-configs/advanced-1.json}
seed=${SEED:-11}
cols=100
rows=30

command -v tmux >/dev/null || { echo "screenshots: tmux is needed (apt-get install tmux)" >&2; exit 2; }
python3 -c 'import PIL' 2>/dev/null || python3 -m pip install --quiet pillow
make build >/dev/null

mkdir -p "$out"
work=$(mktemp -d /tmp/kvdash-shots.XXXXXX)
server="kvdash-shots-$$"
cleanup() {
    tmux -L "$server" kill-server 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The run happens in its own folder, so that its replica sockets do not
# meet another simulation's.
tmux -L "$server" new-session -d -s shots -x "$cols" -y "$rows" -c "$work" \
    "$root/target/release/kvdash --socket $work/k.sock run --runpy $root/run.py $root/$config \
     -- -s --seed $seed -r $root/3700kvstore; sleep 60"
start=$(date +%s.%N)

shot() { # shot NAME AT_SECONDS: capture NAME.png AT seconds after the start
    local name=$1 at=$2 now
    now=$(date +%s.%N)
    sleep "$(python3 -c "print(max(0.0, $start + $at - $now))")"
    tmux -L "$server" capture-pane -e -p -t shots > "$work/$name.ans"
    python3 scripts/ansi2png.py "$work/$name.ans" "$out/$name.png" --cols "$cols" --rows "$rows"
    echo "screenshots: $out/$name.png"
}

shot kvdash-partition 14.2
shot kvdash-leader-kill 23.5
shot kvdash-verdict 33
tmux -L "$server" send-keys -t shots '?'
shot kvdash-help 34
tmux -L "$server" send-keys -t shots q
