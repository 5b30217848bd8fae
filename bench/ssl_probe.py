"""Linear probe for bench/ssl.ts: class-balanced logistic regression on dumped embeddings.

    python3 bench/ssl_probe.py WORK_DIR SETS LABELS SEEDS [C]

WORK_DIR holds <name>.pool.f32 / <name>.test.f32 (float32, row-major) with <name>.json
({"dim": D}), and y.pool.i32 / y.test.i32. SETS is a comma-separated list of feature sets, each
one name or names joined by '+' (concatenated columns). For each set, label count k and seed s:
k pool images drawn uniformly at random (numpy default_rng(s)), standardised columns (fitted on
the k), LogisticRegression(C, class_weight='balanced'), accuracy on the whole test split. Prints
one JSON object: {set: {k: [acc per seed]}}.
"""

import json
import os
import sys
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def load(work, name, split):
    dim = json.load(open(os.path.join(work, name + ".json")))["dim"]
    x = np.fromfile(os.path.join(work, f"{name}.{split}.f32"), dtype="<f4")
    return x.reshape(-1, dim)


def main():
    work, sets, labels, seeds = sys.argv[1:5]
    c = float(sys.argv[5]) if len(sys.argv) > 5 else 1.0
    y_pool = np.fromfile(os.path.join(work, "y.pool.i32"), dtype="<i4")
    y_test = np.fromfile(os.path.join(work, "y.test.i32"), dtype="<i4")
    warnings.simplefilter("ignore", ConvergenceWarning)
    out = {}
    for s in sets.split(","):
        parts = s.split("+")
        xp = np.hstack([load(work, p, "pool") for p in parts])
        xt = np.hstack([load(work, p, "test") for p in parts])
        out[s] = {}
        for k in [int(v) for v in labels.split(",")]:
            accs = []
            for seed in range(int(seeds)):
                rng = np.random.default_rng(seed)
                idx = rng.choice(len(y_pool), size=k, replace=False)
                clf = make_pipeline(
                    StandardScaler(),
                    LogisticRegression(C=c, class_weight="balanced", max_iter=5000),
                )
                clf.fit(xp[idx], y_pool[idx])
                accs.append(float((clf.predict(xt) == y_test).mean()))
            out[s][k] = accs
    print(json.dumps(out))


if __name__ == "__main__":
    main()
