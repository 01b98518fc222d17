#!/usr/bin/env python3
"""Deterministic SSOT CSV files for bench/ssot.sh.

    gen_ssot_csv.py OUT_DIR DEVICES [SEED]

Writes models.csv (40 device models), devices.csv (DEVICES devices spread
over the models, ~100 per school code) and changed.csv (the first 10,000
devices again, now in repair: the propagation workload).
"""
import csv
import random
import sys
from pathlib import Path

MAKES = ["Lenovo", "HP", "Dell", "Acer", "Asus", "Samsung", "Huawei", "Mecer"]
LIFECYCLES = ["deployed"] * 8 + ["in_stock", "in_repair"]


def main() -> None:
    out, n = Path(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 2026)
    out.mkdir(parents=True, exist_ok=True)
    models = [(MAKES[i % len(MAKES)], f"EDU-{i:02d}", "laptop" if i % 4 else "tablet") for i in range(40)]
    with open(out / "models.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["make", "model", "category"])
        w.writerows(models)
    header = ["serial", "assetTag", "make", "model", "assignedTo", "lifecycle", "enrolled"]
    rows = []
    with open(out / "devices.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i in range(n):
            make, model, _ = models[rng.randrange(len(models))]
            row = [f"SN{i:09d}", f"KE-{i // 100:05d}-{i % 100:03d}", make, model, "",
                   rng.choice(LIFECYCLES), "true" if rng.random() < 0.9 else "false"]
            if i < 10_000:
                rows.append(row)
            w.writerow(row)
    with open(out / "changed.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row in rows:
            w.writerow(row[:4] + ["bench-technician", "lost", row[6]])


if __name__ == "__main__":
    main()
