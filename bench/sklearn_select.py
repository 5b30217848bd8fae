"""scikit-learn twins of the product's KMeans and KCenter selection (bench/run.ts calls this).

Data: the same recipe as electron/ml/strategies/benchSelection.ts (20 Gaussian blobs, ReLU),
n x dim, the first `--labeled` rows labeled. Both methods project to --pca dims first (PCA,
randomized solver), as the product's strategies do by default (pcaDims = 32).

- KMeans: sklearn.cluster.KMeans(k = budget, init k-means++, n_init=1, max_iter=--max-iter),
  then the unlabeled sample nearest each centre (pairwise_distances_argmin).
- KCenter: greedy k-center with pairwise_distances_argmin_min for the start and one distance
  column per pick (the Google active-learning / CoreSet formulation).

Timings include the PCA, as the product's do. Thread pools are whatever the caller sets
(bench/run.ts sets OMP/OPENBLAS/MKL_NUM_THREADS=1).

    /usr/bin/python3 bench/sklearn_select.py --method kmeans|kcenter [--n 50000] [--dim 512]
        [--budget 1000] [--labeled 1000] [--pca 32] [--max-iter 10]
"""
import argparse
import json
import resource
import time

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import pairwise_distances, pairwise_distances_argmin, pairwise_distances_argmin_min


def data(n, dim, seed=7):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, dim)).astype(np.float32) * 3
    blob = rng.integers(0, 20, size=n)
    return np.maximum(0, centres[blob] + rng.normal(size=(n, dim)).astype(np.float32))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--method", choices=["kmeans", "kcenter"], required=True)
    p.add_argument("--n", type=int, default=50000)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--budget", type=int, default=1000)
    p.add_argument("--labeled", type=int, default=1000)
    p.add_argument("--pca", type=int, default=32)
    p.add_argument("--max-iter", type=int, default=10)
    a = p.parse_args()
    x = data(a.n, a.dim)
    labeled, unlabeled = x[: a.labeled], x[a.labeled :]
    t0 = time.perf_counter()
    c0 = time.process_time()
    if a.method == "kmeans":
        u = PCA(a.pca, svd_solver="randomized", random_state=1).fit_transform(unlabeled) if a.pca else unlabeled
        km = KMeans(a.budget, init="k-means++", n_init=1, max_iter=a.max_iter, random_state=1).fit(u)
        picked = np.unique(pairwise_distances_argmin(km.cluster_centers_, u))
        iters = int(km.n_iter_)
    else:
        z = PCA(a.pca, svd_solver="randomized", random_state=1).fit_transform(x) if a.pca else x
        lab, u = z[: a.labeled], z[a.labeled :]
        _, mind = pairwise_distances_argmin_min(u, lab)
        picked = []
        for _ in range(a.budget):
            j = int(np.argmax(mind))
            picked.append(j)
            mind = np.minimum(mind, pairwise_distances(u, u[j : j + 1]).ravel())
        iters = None
    seconds = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "method": a.method,
                "seconds": seconds,
                "cpuSeconds": time.process_time() - c0,
                "peakRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "selected": len(picked),
                "iterations": iters,
                "maxIter": a.max_iter,
                "pca": a.pca,
            }
        )
    )


if __name__ == "__main__":
    main()
