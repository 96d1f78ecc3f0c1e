"""Converts the prom2d reference outputs (../shared/refdata/prom2d, computed with pyPho, an exact
union-find sweep and Xunius' contour method) into the compact .npy files tests/test_prom2d.c reads.
No value is recomputed here: every number is copied from the peers' JSON/raw outputs.

    python3 tools/gen_prom2d_golden.py ../shared/refdata/prom2d tests/data/prom2d
"""
import json
import os
import sys

import numpy as np

ref, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)


def load(name):
    with open(os.path.join(ref, name)) as f:
        return json.load(f)


meta = load("posterior_200.json")
P = np.fromfile(os.path.join(ref, meta["file"]), "<f8").reshape(meta["shape"])
np.save(os.path.join(out, "posterior_200.npy"), P)

# pyPho masks, bit-packed along t (LSB first): the layout prom2d.h writes for packed masks.
mm = load("pypho_masks_alpha_0.1_0.5_0.9_200.json")
M = np.fromfile(os.path.join(ref, mm["file"]), np.uint8).reshape(mm["shape"])
np.save(os.path.join(out, "pypho_masks_packed.npy"), np.packbits(M, axis=-1, bitorder="little"))

# pyPho peak tuples: t, ix, iy, height, prominence, is_dominant
rows = []
for b in load("pypho_promenence_tuples_200.json")["bins"]:
    for k, ((ix, iy), pr, h) in enumerate(zip(b["peak_coords_ix_iy"], b["prominences"], b["peak_heights"])):
        rows.append([b["t"], ix, iy, h, pr, 1.0 if k == b["dominant_index"] else 0.0])
np.save(os.path.join(out, "pypho_peaks.npy"), np.array(rows, dtype=np.float64))

# union-find exact prominence, first 20 bins:
# t, row, col, height, prominence, col_level (NaN: highest), saddle row, saddle col, parent row, parent col
n_y = meta["shape"][1]
for conn in (4, 8):
    rows = []
    for b in load("unionfind_prominence_conn%d_first20.json" % conn)["bins"]:
        for p in b["peaks"]:
            sad = p["saddle"] or [-1, -1]
            par = divmod(p["merged_into"], n_y) if p["merged_into"] is not None else (-1, -1)
            col = np.nan if p["col_level"] is None else p["col_level"]
            rows.append([b["t"], p["row"], p["col"], p["height"], p["prominence"], col,
                         sad[0], sad[1], par[0], par[1]])
    np.save(os.path.join(out, "uf%d_peaks.npy" % conn), np.array(rows, dtype=np.float64))

# Xunius contour method, first 20 bins: t, centre row, centre col, height level, col level,
# prominence, is_highest, step
x = load("xunius_getProminence_first20.json")
rows = []
for b in x["bins"]:
    for p in b["peaks"]:
        cx, cy = p["center_xy_index_units"]
        rows.append([b["t"], cy, cx, p["height"], p["col_level"], p["prominence"],
                     1.0 if p["parent"] == 0 else 0.0, x["step"]])
np.save(os.path.join(out, "xunius_peaks.npy"), np.array(rows, dtype=np.float64))

# Edge cases (scripts/edge_cases.py): the 5 x 6 base slice and pyPho's answers on it.
base = np.random.default_rng(0).random((5, 6, 1))
np.save(os.path.join(out, "edge_base.npy"), base[:, :, 0])
edge = load("edge_cases_pypho.json")
rows = []
for case in ("alpha_0", "negative_data (Z-2)", "float32_input"):
    coords, _, _, prom, _, heights, _ = edge[case]["new"]["tuples"][0]
    for (ix, iy), pr, h in zip(coords, prom, heights):
        rows.append([ix, iy, h, pr])
np.save(os.path.join(out, "edge_pypho_peaks.npy"), np.array(rows, dtype=np.float64).reshape(3, -1, 4))
sums = {k: v["new"]["mask_sums"] for k, v in edge.items() if isinstance(v["new"], dict)}
print(json.dumps(sums))
