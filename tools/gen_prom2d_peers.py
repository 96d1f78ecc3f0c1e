"""References from the peers for prom2d's periodic edges and 1-D profiles, into tests/data/prom2d:

- periodic_maps.npy (K, 9, 11) float64 and periodic_prom.npy rows [map, axes, prominence]:
  gudhi's PeriodicCubicalComplex on -Z (top-dimensional cells, so cells that share a corner
  touch: 8-connectivity), dimension-0 pairs, prominence = death - birth; the essential class is
  the highest peak (max - min). axes: 1 rows wrap, 2 columns wrap, 3 both. The last maps are
  2 x 11 (a periodic axis of length 2).
- profiles_1d.npy (K, 64) float64 and profiles_1d_peaks.npy rows [profile, index, prominence,
  left_base, right_base, left_ips, right_ips]: scipy.signal.find_peaks, peak_prominences and
  peak_widths at rel_height 0.5 (where the half-prominence line crosses the profile).

Values are continuous random numbers (no ties), so the pairings are unique.

    pip install gudhi scipy numpy
    python3 tools/gen_prom2d_peers.py tests/data/prom2d
"""
import os
import sys

import gudhi
import numpy as np
from scipy.signal import find_peaks, peak_prominences, peak_widths

out = sys.argv[1]
rng = np.random.default_rng(20261207)

maps = []
for k in range(12):  # smooth-ish bumps plus noise, and a bump placed across each edge
    x, y = np.meshgrid(np.arange(9), np.arange(11), indexing="ij")
    z = rng.normal(0, 0.3, (9, 11))
    for _ in range(3):
        cx, cy = rng.uniform(0, 9), rng.uniform(0, 11)
        dx = np.minimum(abs(x - cx), 9 - abs(x - cx))
        dy = np.minimum(abs(y - cy), 11 - abs(y - cy))
        z += rng.uniform(1, 3) * np.exp(-(dx ** 2 + dy ** 2) / 4)
    maps.append(z)
small = [rng.normal(0, 1, (2, 11)) for _ in range(4)]
rows = []
for k, z in enumerate(maps + [np.pad(s, ((0, 7), (0, 0)), constant_values=np.nan) for s in small]):
    z2 = z[:2] if k >= len(maps) else z
    for axes in (1, 2, 3):
        cc = gudhi.PeriodicCubicalComplex(top_dimensional_cells=-z2,
                                          periodic_dimensions=[bool(axes & 1), bool(axes & 2)])
        for dim, (birth, death) in cc.persistence(homology_coeff_field=2, min_persistence=0):
            if dim != 0:
                continue
            prom = (z2.max() - z2.min()) if np.isinf(death) else death - birth
            if prom > 0:
                rows.append([k, axes, prom])
# the 2 x 11 maps are stored in the first two rows of a 9 x 11 slot (the rest NaN, unused)
np.save(os.path.join(out, "periodic_maps.npy"),
        np.array(maps + [np.pad(s, ((0, 7), (0, 0)), constant_values=np.nan) for s in small]))
np.save(os.path.join(out, "periodic_prom.npy"), np.array(rows, dtype=np.float64))
n_periodic = len(rows)

profiles, rows = [], []
for k in range(16):
    t = np.arange(64)
    p = rng.normal(0, 1, 64) + 2 * np.sin(t / rng.uniform(3, 9))
    profiles.append(p)
    peaks, _ = find_peaks(p)
    prom, left, right = peak_prominences(p, peaks)
    _, _, lips, rips = peak_widths(p, peaks, rel_height=0.5, prominence_data=(prom, left, right))
    for i, pr, lb, rb, li, ri in zip(peaks, prom, left, right, lips, rips):
        rows.append([k, i, pr, lb, rb, li, ri])
np.save(os.path.join(out, "profiles_1d.npy"), np.array(profiles))
np.save(os.path.join(out, "profiles_1d_peaks.npy"), np.array(rows, dtype=np.float64))
print("periodic: %d maps, %d prominences; 1-D: %d profiles, %d peaks"
      % (len(maps) + len(small), n_periodic, len(profiles), len(rows)))
