#!/bin/sh
# report.sh - zplan report: every chart and its files, the .dat numbers
# against the store (sqlite3) and against the ZeRO paper's formulas, the
# HTML and Markdown structure, a headless-browser screenshot, and each bad
# input (unknown run, empty or missing database, unwritable directory,
# gnuplot missing or failing) leaving no directory behind.
. "$(dirname "$0")/lib.sh"

if ! command -v gnuplot >/dev/null 2>&1; then
    missing "gnuplot is not installed (scripts/setup installs gnuplot-nox)"
fi
have_sqlite=0
command -v sqlite3 >/dev/null 2>&1 && have_sqlite=1

DB=$tmp/report.db
cd "$tmp" || exit 1

# col FILE NAME: the 1-based field of column NAME in the column header, the
# last '#' line before the data ("# a b[unit] ...")
col() {
    awk -v want="$2" '/^#/ { head = $0; next }
        { n = split(head, f, " "); for (i = 2; i <= n; i++) { c = f[i]; sub(/\[.*$/, "", c); if (c == want) { print i - 1; exit } } exit }' "$1"
}
# val FILE KEYFIELD KEY NAME: the value of column NAME in the row whose
# field KEYFIELD equals KEY (quotes stripped)
val() {
    c=$(col "$1" "$4")
    awk -v k="$2" -v key="$3" -v c="$c" '!/^#/ { v = $k; gsub(/"/, "", v); if (v == key) { print $c; exit } }' "$1"
}
# close A B [REL]: A and B agree to REL (default 1e-4) relative, or 1e-4 absolute
close() {
    awk -v a="$1" -v b="$2" -v r="${3:-1e-4}" 'BEGIN {
        d = a - b; if (d < 0) d = -d; s = b < 0 ? -b : b; exit !(a != "" && b != "" && (d <= r * s || d <= 1e-4)) }'
}
rows() { grep -vc '^#' "$1"; }
sq() { sqlite3 -batch "$DB" "$1" 2>/dev/null; }

# ---------------------------------------------------------------- a report

run "$ZPLAN" --params 11e9 --gpus 8 --db "$DB" --json
ok $rc "plan 11e9 on 8 GPUs into a database"
cp "$outf" r1.json
run "$ZPLAN" --model llama2-7b --gpus 16 --pp 4 --zero 1 --db "$DB" --json
ok $rc "plan llama2-7b on 16 GPUs with 4 pipeline stages"
cp "$outf" r2.json

R=$tmp/rep1
run "$ZPLAN" report 1 --db "$DB" --out "$R"
ok $rc "report 1 exits 0" || diag "$err"
is "$out" "$R/index.html" "report prints the path of its index.html"
for c in strategy scaling top_plans comm stages; do
    ok "$([ -s "$R/$c.png" ] && [ -s "$R/$c.dat" ] && [ -s "$R/$c.gp" ]; echo $?)" "chart $c: .png, .dat and .gp"
    ok "$(head -1 "$R/$c.dat" | grep -q '^# zplan' && grep -q '^# .*\[' "$R/$c.dat"; echo $?)" \
        "chart $c: .dat has # headers with units"
done
ok "$([ ! -e "$R/measured.png" ] && grep -q 'no executions' "$R/index.html" && grep -q 'no executions' "$R/report.md"; echo $?)" \
    "predicted vs measured: omitted with a note (no executions recorded)"
ok "$(ls -d "$tmp"/rep1.partial-* 2>/dev/null | grep -c . | grep -qx 0; echo $?)" "no temporary directory left"
# the PNGs are 1200x700 (bytes 16-23 of the IHDR chunk)
ok "$(od -An -tu1 -j16 -N8 "$R/strategy.png" | tr -s ' ' | grep -q '^ 0 0 4 176 0 0 2 188$'; echo $?)" \
    "strategy.png is 1200 x 700"

# a user can restyle: the .gp alone regenerates the chart from the .dat
mkdir "$tmp/restyle" && cp "$R/scaling.dat" "$R/scaling.gp" "$tmp/restyle/"
(cd "$tmp/restyle" && gnuplot scaling.gp 2>"$tmp/restyle.err")
ok "$([ -s "$tmp/restyle/scaling.png" ]; echo $?)" "gnuplot scaling.gp regenerates scaling.png from scaling.dat"

# ---------------------------------------------------------------- numbers vs the store

GIB=1073741824
if [ "$have_sqlite" -eq 1 ]; then
    n=$(sq "SELECT count(*) FROM plans WHERE run_id = 1 AND kind = 'classic'")
    is "$(rows "$R/strategy.dat")" "$((n + 1))" "strategy.dat: the $n classic strategies and the chosen plan"
    for s in DP TP PP ZeRO-1 ZeRO-2 ZeRO-3 ZeRO-3+offload; do
        bad=0
        for pair in params:params_bytes grads:grads_bytes optimizer:optimizer_bytes \
            activations:activations_bytes buffers:buffers_bytes overhead:overhead_bytes \
            device_total:total_bytes host_total:host_bytes; do
            c=${pair%%:*} q=${pair#*:}
            want=$(sq "SELECT $q * 1.0 / $GIB FROM plans WHERE run_id = 1 AND kind = 'classic' AND name = '$s'")
            got=$(val "$R/strategy.dat" 2 "$s" "$c")
            close "$got" "$want" || { bad=1; diag "$s $c: .dat $got, store $want"; }
        done
        ok $bad "strategy.dat $s: every class equals the store's plans row"
    done
    bad=0
    for pair in params:params_bytes optimizer:optimizer_bytes activations:activations_bytes device_total:total_bytes; do
        c=${pair%%:*} q=${pair#*:}
        want=$(sq "SELECT $q * 1.0 / $GIB FROM plans WHERE run_id = 1 AND kind = 'top' AND rank = 1")
        close "$(val "$R/strategy.dat" 2 chosen "$c")" "$want" || bad=1
    done
    ok $bad "strategy.dat chosen: equals the store's best plan"

    ntop=$(sq "SELECT min(count(*), 10) FROM plans WHERE run_id = 1 AND kind = 'top'")
    is "$(rows "$R/top_plans.dat")" "$ntop" "top_plans.dat: one row per top plan (at most 10)"
    bad=0
    i=1
    while [ "$i" -le "$ntop" ]; do
        for pair in step:step_time_s compute:compute_s comm_exposed:comm_exposed_s bubble:bubble_s; do
            c=${pair%%:*} q=${pair#*:}
            want=$(sq "SELECT $q FROM plans WHERE run_id = 1 AND kind = 'top' AND rank = $i")
            close "$(val "$R/top_plans.dat" 1 "$i" "$c")" "$want" || { bad=1; diag "rank $i $c"; }
        done
        want=$(sq "SELECT total_bytes * 1.0 / $GIB FROM plans WHERE run_id = 1 AND kind = 'top' AND rank = $i")
        close "$(val "$R/top_plans.dat" 1 "$i" total)" "$want" || { bad=1; diag "rank $i total"; }
        i=$((i + 1))
    done
    ok $bad "top_plans.dat: step time split and memory equal the store, rank by rank"
else
    skip_dep "sqlite3 shell not installed: .dat vs store"
fi

# scaling.dat against the ZeRO paper (Rajbhandari et al.): bf16 params and
# grads (2 + 2 bytes), Adam with fp32 master K = 12, N_d = gpus:
#   ZeRO-0 16 Psi, ZeRO-1 4 Psi + 12 Psi/N, ZeRO-2 2 Psi + 14 Psi/N, ZeRO-3 16 Psi/N
P=$(jq '.model.params' r1.json)
bad=0
for g in 1 2 8 64 1024; do
    for z in 0 1 2 3; do
        want=$(awk -v p="$P" -v n="$g" -v z="$z" -v u="$GIB" 'BEGIN {
            s = int((p + n - 1) / n);
            if (z == 0) b = 16 * p; else if (z == 1) b = 4 * p + 12 * s; else if (z == 2) b = 2 * p + 14 * s; else b = 16 * s;
            printf "%.6f", b / u }')
        got=$(val "$R/scaling.dat" 1 "$g" "zero${z}_states")
        close "$got" "$want" || { bad=1; diag "gpus $g ZeRO-$z: .dat $got, formula $want"; }
    done
done
ok $bad "scaling.dat: model states per GPU follow the ZeRO paper's formulas for 1..1024 GPUs"
is "$(awk '!/^#/ { print $1 }' "$R/scaling.dat" | tr '\n' ' ')" "1 2 4 8 16 32 64 128 256 512 1024 " \
    "scaling.dat: 1 to 1024 GPUs"

# comm.dat: plain DP all-reduces the bf16 gradients once per step, 2(n-1)/n x 2 Psi bytes
want=$(awk -v p="$P" -v u="$GIB" 'BEGIN { printf "%.6f", 2 * 7 / 8 * 2 * p / u }')
ok "$(close "$(val "$R/comm.dat" 2 DP dp_allreduce)" "$want"; echo $?)" "comm.dat DP: 2(n-1)/n x 2 Psi bytes (nccl-tests bus bytes)"
# ... and the chosen plan's total equals its comm_bytes_per_step in the store
if [ "$have_sqlite" -eq 1 ]; then
    want=$(sq "SELECT comm_bytes_per_step * 1.0 / $GIB FROM plans WHERE run_id = 1 AND kind = 'top' AND rank = 1")
    ok "$(close "$(val "$R/comm.dat" 2 chosen total)" "$want"; echo $?)" "comm.dat chosen: total equals the store"
fi

# stages.dat of the pipelined run against plan_stages
R2=$tmp/rep2
run "$ZPLAN" report 2 --db "$DB" --out "$R2" --format both
ok $rc "report 2 --format both exits 0" || diag "$err"
ok "$([ -s "$R2/strategy.png" ] && [ -s "$R2/strategy.svg" ] && grep -q '<svg' "$R2/strategy.svg"; echo $?)" \
    "--format both writes PNG and SVG"
is "$(rows "$R2/stages.dat")" "4" "stages.dat: 4 pipeline stages"
if [ "$have_sqlite" -eq 1 ]; then
    bad=0
    for k in 0 1 2 3; do
        for pair in params:params_bytes activations:activations_bytes buffers:buffers_bytes total:total_bytes; do
            c=${pair%%:*} q=${pair#*:}
            want=$(sq "SELECT $q * 1.0 / $GIB FROM plan_stages WHERE run_id = 2 AND stage = $k")
            close "$(val "$R2/stages.dat" 1 "$k" "$c")" "$want" || { bad=1; diag "stage $k $c"; }
        done
    done
    ok $bad "stages.dat: every stage equals plan_stages"
fi
# the first stage holds more activations than the last (1F1B), the last the logits
a0=$(val "$R2/stages.dat" 1 0 activations)
a3=$(val "$R2/stages.dat" 1 3 activations)
ok "$(awk -v a="$a0" -v b="$a3" 'BEGIN { exit !(a > b) }'; echo $?)" "stages.dat: stage 0 keeps more activations than stage 3"

run "$ZPLAN" report 2 --db "$DB" --out "$tmp/rep3" --format svg
ok "$([ "$rc" -eq 0 ] && [ -s "$tmp/rep3/comm.svg" ] && [ ! -e "$tmp/rep3/comm.png" ]; echo $?)" "--format svg: SVG only"

# ---------------------------------------------------------------- HTML and Markdown

H=$R/index.html
ok "$(head -1 "$H" | grep -qi '^<!DOCTYPE html>'; echo $?)" "index.html starts with a doctype"
ok "$(grep -q '</html>' "$H" && grep -q '<title>zplan report, run 1</title>' "$H"; echo $?)" "index.html is complete, titled"
# the header says the network in both units (A100-80G: 25 GB/s per GPU)
ok "$(grep -q 'network 25 GB/s (200 Gb/s) per GPU' "$H" && grep -q 'network 25 GB/s (200 Gb/s) per GPU' "$R/report.md"; echo $?)" \
    "index.html and report.md: the network per GPU, 25 GB/s (200 Gb/s)"
is "$(grep -c '<img ' "$H")" "5" "index.html shows the five charts"
bad=0
for src in $(sed -n 's/.*<img src="\([^"]*\)".*/\1/p' "$H"); do
    [ -s "$R/$src" ] || { bad=1; diag "missing $src"; }
done
ok $bad "every image index.html shows exists (readable offline)"
ok "$(grep -q 'http' "$H"; test $? -eq 1; echo $?)" "index.html loads nothing from the network"
is "$(grep -c '<section' "$H")" "6" "index.html has a section per chart (6, measured included)"
is "$(grep -c '<table>' "$H")" "5" "each drawn chart has its table"
ok "$(grep -q 'derived' "$H" && grep -q 'A100-80G' "$H" && grep -q 'zplan 0\.' "$H" && grep -Eq '20[0-9]{2}-[0-9]{2}-[0-9]{2}T' "$H"; echo $?)" \
    "index.html states the inputs: model, cluster, zplan version, date"
is "$(grep -c '^## ' "$R/report.md")" "6" "report.md: a section per chart"
is "$(grep -c '^| strategy | layout | params (GiB) |' "$R/report.md")" "1" "report.md: the strategy table"
ok "$([ -s "$H" ] && [ -s "$R/report.md" ] && ! grep -q '<th>x</th>' "$H" && ! grep -q '^| x |' "$R/report.md"; echo $?)" \
    "no table has a column headed x"
# the page's tables carry the .dat's numbers at 4 significant digits
v=$(val "$R/strategy.dat" 2 ZeRO-3 device_total)
v4=$(awk -v v="$v" 'BEGIN { printf "%.4g", v }')
ok "$(grep -q ">$v4<" "$H" && grep -q "| $v4 |" "$R/report.md"; echo $?)" \
    "ZeRO-3's total ($v in the .dat) appears as $v4 in the HTML and Markdown tables"
ok "$(sed -n 's/.*<td>\([^<]*\)<\/td>.*/\1/p' "$H" | tr -d ' ' | grep -E '^[0-9.e+-]+$' |
      awk '{ s = $0; sub(/e.*/, "", s); gsub(/[^0-9]/, "", s); sub(/^0+/, "", s); if (length(s) > 4) bad = 1 } END { exit bad }'; echo $?)" \
    "the page's numbers have at most 4 significant digits"
# 11e9 derived: 34 blocks of 12 h^2 + 13 h at h = 5120 (314,639,360 each,
# 10,697,738,240) and the rest (50304 + 2048) h + 2 h = 268,052,480:
# 10,965,790,720
ok "$(grep -q '2.00 TiB host RAM per node' "$H" && grep -q '2.00 TiB host RAM per node' "$R/report.md" &&
      grep -q 'derived: 10.97B parameters (10965790720); 34 layers, hidden 5120' "$H"; echo $?)" \
    "the header: host RAM in the CLI's units (2.00 TiB, not 2048.00 GiB), the model in words"

# a headless browser opens it without errors and draws something
browser=
for b in chromium chromium-browser google-chrome; do
    command -v "$b" >/dev/null 2>&1 && { browser=$b; break; }
done
if [ -n "$browser" ]; then
    shot() {
        timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
            --disable-background-networking --disable-component-update --disable-sync \
            --user-data-dir="$tmp/browser" --window-size=1400,3000 --screenshot="$2" "file://$1" \
            >"$tmp/browser.log" 2>&1
    }
    printf '<!DOCTYPE html><html><head><title>blank</title></head><body></body></html>\n' >"$tmp/blank.html"
    shot "$H" "$tmp/report.png"
    shot "$tmp/blank.html" "$tmp/blank.png"
    rs=$(wc -c <"$tmp/report.png" 2>/dev/null || echo 0)
    bs=$(wc -c <"$tmp/blank.png" 2>/dev/null || echo 0)
    ok "$([ "$rs" -gt 0 ]; echo $?)" "$browser renders index.html to a screenshot"
    ok "$([ "$bs" -gt 0 ] && [ "$rs" -gt $((bs * 10)) ]; echo $?)" \
        "the screenshot is not blank ($rs bytes vs $bs for an empty page)"
    # every tenth of the 1400 x 3000 screenshot has drawn pixels (not one
    # chart and white below it): decoded here, with zlib only
    regions=$(python3 - "$tmp/report.png" <<'PY'
import struct, sys, zlib
d = open(sys.argv[1], "rb").read()
pos, idat, w = 8, b"", 0
while pos < len(d):
    n, kind = struct.unpack(">I4s", d[pos:pos + 8])
    body = d[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
bpp = {2: 3, 6: 4}[ctype]
raw, stride, rows, prev = zlib.decompress(idat), w * bpp, [], bytearray(w * bpp)
for y in range(h):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        p = a + b - c
        pr = a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else b if abs(p - b) <= abs(p - c) else c
        line[i] = (line[i] + [0, a, b, (a + b) // 2, pr][f]) & 255
    rows.append(bytes(line))
    prev = line
inked = [any(v < 200 for v in r[::bpp * 4]) for r in rows]
print(sum(1 for k in range(10) if any(inked[k * h // 10:(k + 1) * h // 10])))
PY
)
    is "$regions" 10 "each tenth of the 1400 x 3000 screenshot has something drawn in it"
    # nothing overflows 1400 pixels: the page measured in the browser (a
    # copy of it with a script that writes the widest overflow into the
    # title, read back from the DOM); no table scrolls sideways
    sed 's#</body>#<script>var o=document.documentElement.scrollWidth-document.documentElement.clientWidth;document.querySelectorAll(".wide,table").forEach(function(e){o=Math.max(o,e.scrollWidth-e.clientWidth)});document.title="overflow "+o;</script></body>#' \
        "$H" >"$R/overflow-check.html"
    timeout 120 "$browser" --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
        --disable-component-update --disable-sync --user-data-dir="$tmp/browser" --window-size=1400,3000 \
        --dump-dom "file://$R/overflow-check.html" >"$tmp/dom.html" 2>"$tmp/browser.log"
    rm -f "$R/overflow-check.html"
    is "$(sed -n 's#.*<title>\(overflow [0-9-]*\)</title>.*#\1#p' "$tmp/dom.html")" "overflow 0" \
        "at 1400 pixels nothing overflows: no table scrolls sideways"
else
    skip_dep "no headless browser (Debian: apt-get install chromium)"
    skip_dep "no headless browser (Debian: apt-get install chromium)"
    skip_dep "no headless browser (Debian: apt-get install chromium)"
    skip_dep "no headless browser (Debian: apt-get install chromium)"
fi

# the charts' scripts and data: what each shows, checked in their files
CG=$R/comm.gp
ok "$(grep -q "set title 'inside a node (NVLink)'" "$CG" && grep -q "set title 'across nodes (network)'" "$CG" &&
      grep -q "set title 'to and from the host (PCIe, offload)'" "$CG"; echo $?)" \
    "comm: network, NVLink and PCIe traffic in panels of their own"
# on one node of 8, TP's 4.8 TiB beside PP's 21 GiB inside the node: a log
# scale there; nothing crosses nodes: that panel says so
ok "$(awk '/inside a node/ { on = 1 } on && /set logscale y/ { print; exit }' "$CG" | grep -q . &&
      grep -q 'no traffic on this link' "$CG"; echo $?)" \
    "comm: the NVLink panel (bars 228x apart) on a log scale, the empty network panel says so"
# the TP row's bytes are the plan's own (zplan --json's classic TP row)
tpb=$(jq '.classic[] | select(.strategy == "TP") | .comm_bytes_per_step' r1.json)
ok "$(awk -v b="$tpb" '$2 == "\"TP\"" { v = $19 * 1073741824; d = v - b; if (d < 0) d = -d; exit !(d <= 1e-6 * b) }' \
      "$R/comm.dat"; echo $?)" "comm.dat: TP's NVLink bytes = the plan's comm_bytes_per_step ($tpb)"
TG=$R/top_plans.gp
fast=$(jq '.plans[0].step_time_s' r1.json)
ok "$(grep -q 'the axis starts at' "$TG" &&
      awk -v f="$fast" '/set yrange/ && !done { split($3, r, /[\[:\]]/); done = 1; exit !(r[2] > 0 && r[2] < f) }' "$TG"; echo $?)" \
    "top plans: steps 3 % apart drawn on an axis from just under the fastest ($fast s), not from 0"
ok "$(grep -qF "set xtics ('#1'.\"\\n\".'8x1x1 z1'" "$TG" && ! grep -q 'plan (rank)' "$TG" && ! grep -q 'set key top left' "$TG"; echo $?)" \
    "top plans: the x axis names each plan by its layout, the legend stands outside the bars"
ok "$(grep -q 'set xrange \[-0.6:0.6\]' "$R/stages.gp"; echo $?)" "stages: a one-stage plan is one bar, no empty slots"
ok "$(grep -q "title 'host RAM (offload)'" "$TG" && grep -q "title 'host RAM (offload)'" "$R/stages.gp" &&
      awk 'NR > 1 && $0 !~ /^#/ { n++ } END { exit !(n > 0) }' "$R/top_plans.dat" &&
      head -3 "$R/top_plans.dat" | grep -q 'host\[GiB\]'; echo $?)" \
    "top plans and stages: an offloaded plan's host RAM drawn (hatched) beside its device memory"

# ---------------------------------------------------------------- one step, and replacing

mkdir "$tmp/onestep" && cd "$tmp/onestep" || exit 1
run "$ZPLAN" --params 11e9 --gpus 8 --report --db "$DB"
id=$(sqlite3 -batch "$DB" 'SELECT max(id) FROM runs' 2>&1)
ok "$([ "$rc" -eq 0 ] && [ -s "report-$id/index.html" ] && [ -s "report-$id/strategy.png" ]; echo $?)" \
    "zplan --params 11e9 --gpus 8 --report draws report-$id/ in one step"
run "$ZPLAN" --params 11e9 --gpus 8 --report --db "$DB" --json
ok "$([ "$rc" -eq 0 ] && jtrue "$outf" '(.run_id | type) == "number"' && grep -q index.html "$errf"; echo $?)" \
    "--report --json: stdout stays one JSON object, the report path goes to stderr"
cd "$tmp" || exit 1
run "$ZPLAN" report 1 --db "$DB" --out "$R"
ok "$([ "$rc" -eq 0 ] && [ -s "$R/index.html" ]; echo $?)" "a report directory is replaced by a new report of it"

# ---------------------------------------------------------------- names are data, never code

# Names reach the charts' scripts and the pages from a --config file's name,
# from a stored run (a shared database is untrusted: edited here with
# sqlite3) and from GPU presets and executions.  gnuplot must run none of
# them; the pages show them escaped; each is still drawn as text.
mkdir "$tmp/evil" && cd "$tmp/evil" || exit 1
EDB=$tmp/evil/evil.db
evil='x";system "touch PWNED";y='
cp "$ZPLAN_SRCDIR/tests/data/gpt2-config.json" "$evil\".json"
run "$ZPLAN" --config "$evil\".json" --gpus 8 --db "$EDB"
ok $rc "plan with --config '$evil\".json'" || show_run
run "$ZPLAN" report 1 --db "$EDB" --out "$tmp/evil/rc" --format both
ok $rc "report of that run exits 0" || show_run
ok "$(find "$tmp" -name 'PWNED*' | grep -c . | grep -qx 0; echo $?)" \
    "a config file named '$evil\".json' runs no command through gnuplot"
ok "$(grep -qF "$evil\"" "$tmp/evil/rc/strategy.svg" && grep -qF "$evil\"" "$tmp/evil/rc/scaling.svg"; echo $?)" \
    "the config's name is drawn as it is in the chart titles"
ok "$(grep -qF 'x&quot;;system &quot;touch PWNED&quot;;y=&quot;' "$tmp/evil/rc/index.html" &&
    ! grep -qF 'system "touch' "$tmp/evil/rc/index.html"; echo $?)" "index.html shows the name escaped, only"

if [ "$have_sqlite" -eq 1 ]; then
    # every string of the stored run that the report prints, edited
    m="it's q';system('touch PWNED2');'x\";system \"touch PWNED3\";\`touch PWNED4\`@GPVAL_PWD \\ <script>alert(1)</script> a|b"
    sqlite3 -batch "$EDB" "UPDATE runs SET created = '<i>then</i>|x', result_json = json_set(result_json,
        '\$.model.name', '$(printf '%s' "$m" | sed "s/'/''/g")' || char(10) || 'next line',
        '\$.model.source', '<b>src</b>|s',
        '\$.cluster.gpu', 'G\"; system \"touch PWNED5\"; \"<b>gpu</b>|g'' ^_{x}@&',
        '\$.classic[0].strategy', 'DP''s @GPVAL_PWD\";system \"touch PWNED6\";\"<u>',
        '\$.zplan_version', '<script>v</script>') WHERE id = 1;
        INSERT INTO executions (run_id, plan_rank, status, backend, ranks, steps, scale, record_json) VALUES (1, 1, 'ok',
        'cuda', 1, 3, '1', json('{\"exec_id\": 1, \"plan\": 1, \"status\": \"ok\", \"ranks\": 1,
        \"gpu\": \"H \\\" <img src=x onerror=alert(1)>|x\", \"per_rank\": [{\"rank\": 0, \"predicted_bytes\": {\"params\": 1048576},
        \"measured_bytes\": {\"params\": 2097152}, \"runtime_bytes\": {\"predicted\": {\"context\": 1048576},
        \"measured\": {\"context\": 1048576}}}]}'));"
    run "$ZPLAN" report 1 --db "$EDB" --out "$tmp/evil/rs" --format both
    ok $rc "report of a run whose names were edited in the database exits 0" || show_run
    H=$tmp/evil/rs/index.html
    ok "$(find "$tmp" -name 'PWNED*' | grep -c . | grep -qx 0; echo $?)" \
        "no stored name (model, GPU, strategy, recompute) runs a command through gnuplot"
    ok "$(grep -qF "system('touch PWNED2')" "$tmp/evil/rs/strategy.svg" &&
        grep -qF '`touch PWNED4`@GPVAL_PWD \ &lt;script' "$tmp/evil/rs/strategy.svg" &&
        grep -qF 'G&quot;; system &quot;touch PWNED5&quot;; &quot;&lt;b&gt;gpu&lt;/b&gt;|g&#39; ^_{x}@&amp;' "$H" &&
        grep -qF 'system "touch PWNED5"' "$tmp/evil/rs/strategy.svg" &&
        grep -qF "|g' ^_{x}@" "$tmp/evil/rs/strategy.svg" &&
        grep -qF "DP's @GPVAL_PWD\";system \"touch PWNED6\"" "$tmp/evil/rs/strategy.svg"; echo $?)" \
        "the edited names are drawn as text (quotes, backquotes, @, ^_{} and all)"
    ok "$(! grep -Eqi '<(script|b|i|u)>|<img src=x' "$H" && grep -qF '&lt;script&gt;alert(1)&lt;/script&gt;' "$H" &&
        grep -qF '&lt;i&gt;then&lt;/i&gt;' "$H" && grep -qF '&lt;img src=x onerror=alert(1)&gt;' "$H"; echo $?)" \
        "index.html: no markup from the database, every name escaped"
    M=$tmp/evil/rs/report.md
    ok "$([ -s "$M" ] && ! grep -Eqi '<(script|b|i|u)>|<img src=x' "$M" && ! grep -q '^next line' "$M" && grep -q '^- model: ' "$M"; echo $?)" \
        "report.md: no markup and no line break from the database"
    # each Markdown table: every row has as many cell separators as its header
    bad=$(awk '/^\|/ { s = $0; gsub(/\\\|/, "", s); n = gsub(/\|/, "", s); if (!intab) want = n; intab = 1;
                      if (n != want) { print NR": "$0; exit } next } { intab = 0 }' "$M")
    ok "$([ -s "$M" ] && [ -z "$bad" ]; echo $?)" "report.md: a '|' in a name does not add a table column" || diag "$bad"
    # .dat text columns: a quote or blank in a name does not split a column
    bad=$(awk '/^#/ { h = NF - 1; next } { n = 0; s = $0; while (match(s, /"[^"]*"|[^ "]+/)) { n++; s = substr(s, RSTART + RLENGTH) }
                      if (n != h) { print FILENAME": "$0; exit } }' "$tmp"/evil/rs/*.dat 2>/dev/null)
    ok "$([ -s "$tmp/evil/rs/measured.dat" ] && [ -z "$bad" ]; echo $?)" ".dat tables: names stay one column each" || diag "$bad"
    ok "$([ -s "$tmp/evil/rs/measured.png" ]; echo $?)" "the execution with an edited GPU name is drawn"
    # a name from a fixed list (recompute, optimizer) edited: the run is
    # refused as not zplan's, and nothing runs
    for path in chosen.ckpt 'plans[0].ckpt' training.optimizer; do
        cp "$EDB" "$tmp/enum.db"
        sqlite3 -batch "$tmp/enum.db" "UPDATE runs SET result_json = json_set(result_json, '\$.$path',
            'none\";system \"touch PWNED7\";\"<script>') WHERE id = 1"
        run "$ZPLAN" report 1 --db "$tmp/enum.db" --out "$tmp/evil/enum"
        ok "$([ "$rc" -eq 1 ] && grep -qF "$path" "$errf" && [ ! -e "$tmp/evil/enum" ] &&
              [ "$(find "$tmp" -name 'PWNED*' | grep -c .)" -eq 0 ]; echo $?)" \
            "an edited $path: the run is refused naming it (exit 1), nothing drawn or run" || show_run
    done
    # the text of show prints the edited names with their control
    # characters made visible ('?'), so a name cannot forge a line
    run "$ZPLAN" show 1 --db "$EDB"
    ok "$([ "$rc" -eq 0 ] && ! grep -q '^next line' "$outf" && grep -q '?next line' "$outf"; echo $?)" \
        "show: a line break in a stored name is printed as '?', no forged line" || show_run
    # an execution still running (or lost) has nothing measured: the report
    # leaves it out, show says so
    n=$(grep -vc '^#' "$tmp/evil/rs/measured.dat")
    sqlite3 -batch "$EDB" "INSERT INTO executions (run_id, plan_rank, status, backend, ranks, steps, scale)
        VALUES (1, 1, 'running', 'cpu', 1, 3, 'none'), (1, 1, 'lost', 'cpu', 1, 3, 'none')"
    run "$ZPLAN" report 1 --db "$EDB" --out "$tmp/evil/running"
    ok "$([ "$rc" -eq 0 ] && [ "$(grep -vc '^#' "$tmp/evil/running/measured.dat")" = "$n" ]; echo $?)" \
        "report: executions running or lost are not drawn as measurements" || show_run
    run "$ZPLAN" show 1 --db "$EDB"
    ok "$([ "$rc" -eq 0 ] && grep -q '^Execution 2: running (nothing recorded yet)' "$outf"; echo $?)" \
        "show: a running execution is listed as such" || show_run
else
    skip_dep "sqlite3 shell not installed: names edited in the database"
fi
cd "$tmp" || exit 1

# ---------------------------------------------------------------- replacing only what zplan wrote

# snap DIR: every path under DIR with its type, and every file's checksum
snap() {
    (cd "$1" && find . -exec ls -ld {} + | awk '{ print $1, $NF }' | LC_ALL=C sort &&
        find . -type f -exec cksum {} + | LC_ALL=C sort)
}
# refused MSG ARGS...: zplan exits 2 with one 'zplan: ' line, $P as it was, no sibling left
refused() {
    msg=$1
    shift
    before=$(snap "$P")
    run "$@"
    after=$(snap "$P")
    ok "$([ "$rc" -eq 2 ] && [ "$(grep -c . "$errf")" -eq 1 ] && grep -q '^zplan: .*--out' "$errf" &&
        [ "$before" = "$after" ] && [ -z "$(ls -d "$tmp"/rp.* 2>/dev/null)" ]; echo $?)" "$msg" ||
        diag "rc=$rc stderr: $err"
}
P=$tmp/rp
# fresh: a new report of run 1 in $P (each case starts from an intact report)
fresh() {
    rm -rf "$P"
    run "$ZPLAN" report 1 --db "$DB" --out "$P"
    [ "$rc" -eq 0 ] || diag "report 1 --out $P failed: $err"
}
fresh
mkdir "$P/sub" && echo mine >"$P/sub/keep.txt"
refused "--out a report holding a subdirectory: refused, nothing removed (exit 2)" "$ZPLAN" report 2 --db "$DB" --out "$P"
fresh
echo mine >"$P/notes.txt"
refused "--out a report holding a file zplan did not write: refused, nothing removed (exit 2)" \
    "$ZPLAN" report 2 --db "$DB" --out "$P"
fresh
echo outside >"$tmp/outside.png"
rm "$P/strategy.png" && ln -s "$tmp/outside.png" "$P/strategy.png"
refused "--out a report where one of zplan's names is a symbolic link: refused (exit 2)" \
    "$ZPLAN" report 2 --db "$DB" --out "$P"
ok "$([ "$(cat "$tmp/outside.png")" = outside ]; echo $?)" "the file that link points to is untouched"
fresh
ln -s "$P" "$tmp/rplink"
refused "--out a symbolic link to a report: refused, the report behind it untouched (exit 2)" \
    "$ZPLAN" report 2 --db "$DB" --out "$tmp/rplink"
ok "$([ -L "$tmp/rplink" ]; echo $?)" "the link is still a link"
printf '#!/bin/sh\necho "plot failed" >&2\nexit 1\n' >"$tmp/failplot" && chmod +x "$tmp/failplot"
before=$(snap "$P")
ZPLAN_GNUPLOT=$tmp/failplot run "$ZPLAN" report 2 --db "$DB" --out "$P"
ok "$([ "$rc" -eq 1 ] && [ "$(grep -c . "$errf")" -eq 1 ] && [ "$before" = "$(snap "$P")" ] &&
    [ -z "$(ls -d "$tmp"/rp.* 2>/dev/null)" ]; echo $?)" "gnuplot failing: exit 1, the old report byte for byte intact" ||
    diag "rc=$rc stderr: $err"
run "$ZPLAN" report 2 --db "$DB" --out "$P"
ok "$([ "$rc" -eq 0 ] && grep -q '<title>zplan report, run 2</title>' "$P/index.html" &&
    [ -z "$(ls -d "$tmp"/rp.* 2>/dev/null)" ]; echo $?)" "a report holding only zplan's files is replaced, no sibling left" ||
    diag "rc=$rc stderr: $err"
head -1 "$P/.zplan-report" >"$tmp/marker" && cp "$tmp/marker" "$P/.zplan-report"
run "$ZPLAN" report 1 --db "$DB" --out "$P"
ok "$([ "$rc" -eq 0 ] && grep -q '<title>zplan report, run 1</title>' "$P/index.html"; echo $?)" \
    "a report of an earlier zplan (a marker without the file list) is replaced" || diag "rc=$rc stderr: $err"

# stopped while gnuplot draws (SIGTERM; a gnuplot that never returns): no
# directory, no partial one, no gnuplot left running
printf '#!/bin/sh\necho $$ >"%s"\nexec sleep 300\n' "$tmp/gp.pid" >"$tmp/hang-gnuplot"
chmod +x "$tmp/hang-gnuplot"
ZPLAN_GNUPLOT=$tmp/hang-gnuplot "$ZPLAN" report 1 --db "$DB" --out "$tmp/stopped" >"$outf" 2>"$errf" &
zpid=$!
# the signal once gnuplot runs (zplan's handlers are set before it starts), at most 30 s on
w=0
while [ ! -s "$tmp/gp.pid" ] && [ "$w" -lt 300 ]; do
    sleep 0.1
    w=$((w + 1))
done
kill -TERM "$zpid"
wait "$zpid"
rc=$?
ok "$([ "$rc" -eq 1 ] && grep -q '^zplan: interrupted: the report was not written$' "$errf" && [ ! -e "$tmp/stopped" ] &&
      [ -z "$(ls -d "$tmp"/stopped.partial-* 2>/dev/null)" ] && [ -s "$tmp/gp.pid" ] &&
      ! kill -0 "$(cat "$tmp/gp.pid")" 2>/dev/null; echo $?)" \
    "SIGTERM while gnuplot draws: exit 1, nothing left behind, gnuplot stopped" || diag "rc=$rc $(cat "$errf")"

# ---------------------------------------------------------------- bad input

# bad CODE DIR MSG ARGS...: exits CODE, one 'zplan: ' line, DIR not created
bad_case() {
    code=$1 dir=$2 msg=$3
    shift 3
    run "$@"
    lines=$(grep -c . "$errf")
    ok "$([ "$rc" -eq "$code" ] && [ "$lines" -eq 1 ] && grep -q '^zplan: ' "$errf" && [ ! -e "$dir" ] &&
        [ -z "$(ls -d "$dir".partial-* 2>/dev/null)" ]; echo $?)" "$msg (exit $code)" ||
        diag "rc=$rc stderr: $err"
}
bad_case 2 "$tmp/b1" "unknown run id" "$ZPLAN" report 99 --db "$DB" --out "$tmp/b1"
bad_case 2 "$tmp/b1m" "a known and an unknown run id: no report of either" "$ZPLAN" report 1 99 --db "$DB" --out "$tmp/b1m"
bad_case 2 "$tmp/b2" "run id not a number" "$ZPLAN" report abc --db "$DB" --out "$tmp/b2"
bad_case 2 "$tmp/b3" "no database" "$ZPLAN" report --db "$tmp/none.db" --out "$tmp/b3"
ok "$([ ! -e "$tmp/none.db" ]; echo $?)" "a missing database is not created by zplan report"
if [ "$have_sqlite" -eq 1 ]; then
    "$ZPLAN" --params 1e9 --db "$tmp/empty.db" --no-store >/dev/null 2>&1
    sqlite3 "$tmp/empty.db" 'PRAGMA user_version = 1; CREATE TABLE runs (id INTEGER PRIMARY KEY, result_json TEXT, created TEXT);'
    bad_case 2 "$tmp/b4" "a database without runs" "$ZPLAN" report --db "$tmp/empty.db" --out "$tmp/b4"
else
    skip_dep "sqlite3 shell not installed: empty database"
fi
: >"$tmp/afile"
bad_case 2 "$tmp/afile/out" "an unwritable output directory (below a file)" "$ZPLAN" report 1 --db "$DB" --out "$tmp/afile/out"
bad_case 2 "$tmp/b5" "an unknown --format" "$ZPLAN" report 1 --db "$DB" --out "$tmp/b5" --format jpg
bad_case 2 "$tmp/b6" "an unknown option" "$ZPLAN" report 1 --db "$DB" --out "$tmp/b6" --colour
ZPLAN_GNUPLOT=$tmp/no-gnuplot bad_case 2 "$tmp/b7" "gnuplot missing" "$ZPLAN" report 1 --db "$DB" --out "$tmp/b7"
ok "$(grep -q gnuplot "$errf"; echo $?)" "the message names gnuplot"
ZPLAN_GNUPLOT=/bin/false bad_case 1 "$tmp/b8" "gnuplot failing at run time" "$ZPLAN" report 1 --db "$DB" --out "$tmp/b8"
mkdir "$tmp/mine" && echo keep >"$tmp/mine/notes.txt"
run "$ZPLAN" report 1 --db "$DB" --out "$tmp/mine"
ok "$([ "$rc" -eq 2 ] && [ "$(cat "$tmp/mine/notes.txt")" = keep ] && [ ! -e "$tmp/mine/index.html" ]; echo $?)" \
    "an existing directory that is not a report is left alone (exit 2)"
run "$ZPLAN" --params 11e9 --report --no-store
ok "$([ "$rc" -eq 2 ] && grep -q -- '--report' "$errf"; echo $?)" "--report with --no-store is refused"

# nothing fits: the report keeps the closest plan and what would fit (it
# dropped both), in index.html and report.md
NF=$tmp/nothing.db
run "$ZPLAN" --model gpt3-175b --gpus 8 --gpu v100-16g --db "$NF" --json
nsugg=$(jq '.suggestions | length' "$outf")
run "$ZPLAN" report 1 --db "$NF" --out "$tmp/rep-nf"
ok "$([ "$rc" -eq 0 ] && grep -q '<h2>Nothing fits</h2>' "$tmp/rep-nf/index.html" &&
      grep -q '<p>Closest plan: dp=[0-9]* tp=[0-9]* pp=[0-9]* zero=[0-3] .*exceeds device memory' "$tmp/rep-nf/index.html" &&
      [ "$nsugg" -gt 0 ] && [ "$(grep -c '^<li>' "$tmp/rep-nf/index.html")" -eq "$nsugg" ]; echo $?)" \
    "nothing fits: index.html shows the closest plan and the $nsugg suggestions" || diag "rc=$rc $err"
ok "$(grep -q '^## Nothing fits' "$tmp/rep-nf/report.md" && grep -q '^Closest plan: dp=' "$tmp/rep-nf/report.md" &&
      [ "$(sed -n '/^What would fit:/,/^## /p' "$tmp/rep-nf/report.md" | grep -c '^- ')" -eq "$nsugg" ]; echo $?)" \
    "nothing fits: report.md shows the closest plan and the suggestions"

finish
