#!/usr/bin/env python3
"""`phalanx analyze` checked against scikit-learn on the same arrays, side by side in one run.

Reads what bench/analysis.sh had `phalanx analyze` write (features.npy, labels.npy,
<method>-embedding.npy, <method>-labels.npy, summary.json with each method's times),
fits scikit-learn with the same settings on the same features, and prints one table:
each figure ours / scikit-learn, the issue's agreement criterion, pass or fail, and the
wall times (scikit-learn s / ours s: above 1, Phalanx is faster). The table also goes to
ROOT/report.md. Layout under ROOT (INPUT is pixels or lenet):
  INPUT/main      pca (all components), kmeans, tsne on the test split
  INPUT/gmm       gmm on --reduce R principal components; pca --components R in the same
                  run saves that very projection (pca-embedding.npy), which scikit-learn's
                  GaussianMixture is fitted on, so both mixtures see identical inputs
  INPUT/manifold  isomap and lle on the first --limit samples
  train/np1       kmeans of the training split by one process
  train/np2       the same under mpirun -np 2 (its time against np1's)
Criteria: k-means inertia and GMM mean log-likelihood (gm.score) within 1 % of
scikit-learn's; PCA explained-variance ratios within 1e-4 (max over components);
trustworthiness (k = 10, sklearn.manifold.trustworthiness on both embeddings against the
same input) of t-SNE, ISOMAP and LLE within 0.01. Timed: scikit-learn's fit (or
fit_transform) alone; ours is the method's "fit_seconds" in summary.json (the method
alone, without its pictures, arrays and trustworthiness score; "seconds" where an older
build wrote no fit_seconds).

    python3 bench/analysis_sklearn.py --root runs/bench-analysis [--n-init 10]
        [--gmm-covariance full] [--gmm-n-init 1] [--neighbors 10] [--perplexity 30]
        [--command "bench/analysis.sh ..."]
    (needs: pip install scikit-learn numpy scipy; THREADS=2 unless set)
"""
def took(method):
    """Our wall time of a method: its fit alone when summary.json has it."""
    return method.get("fit_seconds", method["seconds"])


import argparse
import json
import os
import platform
import subprocess
import sys
import time

# Thread counts are fixed before numpy and scikit-learn load their libraries.
THREADS = int(os.environ.get("THREADS", "2"))
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, str(THREADS))

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.manifold import TSNE, Isomap, LocallyLinearEmbedding, trustworthiness  # noqa: E402
from sklearn.metrics import normalized_mutual_info_score  # noqa: E402
from sklearn.mixture import GaussianMixture  # noqa: E402

TRUST_K = 10
INPUTS = {"pixels": "test pixels ÷ 255", "lenet": "LeNet fc2 features"}


class Run:
    """One `phalanx analyze` output directory."""

    def __init__(self, path):
        self.path = path
        with open(os.path.join(path, "summary.json")) as f:
            self.summary = json.load(f)
        self._x = self._y = None

    def method(self, name):
        return self.summary["methods"][name]

    def array(self, name):
        return np.load(os.path.join(self.path, name))

    @property
    def x(self):
        if self._x is None:
            self._x = self.array("features.npy")
        return self._x

    @property
    def y(self):
        if self._y is None:
            self._y = self.array("labels.npy")
        return self._y

    def shape(self):
        return f"{self.x.shape[0]}×{self.x.shape[1]}"


def timed(fit):
    start = time.perf_counter()
    result = fit()
    return result, time.perf_counter() - start


def fmt(v):
    if isinstance(v, str):
        return v
    return f"{v:.6g}"


class Table:
    def __init__(self):
        self.rows, self.notes, self.speed = [], [], []

    def add(self, data, method, figure, ours, theirs, diff, criterion, ok, ours_s=None, sk_s=None):
        result = "—" if ok is None else ("pass" if ok else "FAIL")
        times = ["", "", ""]
        if ours_s is not None and sk_s is not None:
            times = [f"{ours_s:.2f}", f"{sk_s:.2f}", f"{sk_s / ours_s:.2f}"]
        self.rows.append([data, method, figure, fmt(ours), fmt(theirs), fmt(diff), criterion, result] + times)
        print(f"  {method:7s} {figure}: ours {fmt(ours)}, sklearn {fmt(theirs)}, {criterion}: {result}", flush=True)

    def markdown(self):
        head = ["input", "method", "figure", "ours", "scikit-learn", "difference", "criterion", "result",
                "ours s", "sklearn s", "sklearn/ours"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 3 + "---:|" * 3 + "---|---|" + "---:|" * 3]
        lines += ["| " + " | ".join(r) + " |" for r in self.rows]
        if self.speed:
            lines += ["", "Speed targets (reported, not asserted):", "",
                      "| target | ours s | compared s | compared / ours | met |", "|---|---:|---:|---:|---|"]
            lines += [f"| {t} | {a:.2f} | {b:.2f} | {b / a:.2f} | {'yes' if b > a else 'no'} |"
                      for t, a, b in self.speed]
        if self.notes:
            lines += ["", "Notes:", ""] + [f"- {n}" for n in self.notes]
        return "\n".join(lines)


def relative(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def compare_pca(t, name, run):
    ours = np.asarray(run.method("pca")["explained_variance_ratio"], dtype=np.float64)
    pca, s = timed(lambda: PCA(svd_solver="full").fit(run.x))
    theirs = pca.explained_variance_ratio_
    m = min(len(ours), len(theirs))
    diff = float(np.max(np.abs(ours[:m] - theirs[:m])))
    t.add(name, "pca", f"explained variance ratio, {m} components (first)", float(ours[0]), float(theirs[0]),
          diff, "max abs Δ ≤ 1e-4", diff <= 1e-4 and len(ours) == len(theirs), took(run.method("pca")), s)


def compare_kmeans(t, name, run, n_init, data=None):
    x = run.x
    ours = run.method("kmeans")
    km, s = timed(lambda: KMeans(n_clusters=int(ours["clusters"]), n_init=n_init, random_state=0).fit(x))
    rel = relative(ours["inertia"], km.inertia_)
    t.add(data or name, "kmeans", f"inertia, K={int(ours['clusters'])}, n_init={n_init} ({run.shape()})",
          ours["inertia"], float(km.inertia_), f"{100 * rel:.3f} %", "within 1 %", rel <= 0.01, took(ours), s)
    # Started from our centres, scikit-learn's Lloyd iterations should stay where ours stopped:
    # a check of our fit that no choice of random starts can blur.
    from_ours = KMeans(n_clusters=int(ours["clusters"]), init=run.array("kmeans-centers.npy"), n_init=1).fit(x)
    rel = relative(ours["inertia"], from_ours.inertia_)
    t.add(data or name, "kmeans", f"inertia, sklearn started from our centres (it ran {from_ours.n_iter_} iteration(s))",
          ours["inertia"], float(from_ours.inertia_), f"{100 * rel:.3f} %", "within 1 %", rel <= 0.01)
    ours_labels = run.array("kmeans-labels.npy")
    nmi_ours = normalized_mutual_info_score(run.y, ours_labels)
    nmi_sk = normalized_mutual_info_score(run.y, km.labels_)
    if abs(nmi_ours - ours["nmi"]) > 1e-6:
        t.notes.append(f"{data or name} k-means: our summary's NMI {ours['nmi']:.6f} differs from "
                       f"sklearn's normalized_mutual_info_score of our labels, {nmi_ours:.6f}")
    return ours, km, s, nmi_ours, nmi_sk


def compare_gmm(t, name, run, covariance, n_init):
    ours = run.method("gmm")
    r = int(run.summary["data"]["reduced_to"])
    z = run.array("pca-embedding.npy").astype(np.float64)
    assert z.shape[1] == r, f"{run.path}: pca-embedding.npy has {z.shape[1]} columns, --reduce was {r}"
    # The projection we fit on is our PCA's; sklearn's PCA(R) of the same features spans the
    # same subspace, so its columns agree with ours up to sign.
    zs = PCA(n_components=r, svd_solver="full").fit_transform(run.x.astype(np.float64))
    signs = np.sign(np.sum(zs * z, axis=0))
    gap = float(np.max(np.abs(zs * signs - z)) / np.max(np.abs(zs)))
    t.notes.append(f"{name} gmm: input = our PCA to {r} components (pca-embedding.npy of the same run); "
                   f"sklearn PCA({r}) of features.npy matches it up to column signs to {gap:.2e} "
                   f"(max |Δ| / max |value|); {100 * run.summary['data']['reduced_variance_kept']:.2f} % of the variance kept")
    gm, s = timed(lambda: GaussianMixture(n_components=int(ours["clusters"]), covariance_type=covariance,
                                          n_init=n_init, reg_covar=1e-6, random_state=0).fit(z))
    score = float(gm.score(z))
    rel = relative(ours["mean_log_likelihood"], score)
    t.add(name, "gmm", f"mean log-likelihood, K={int(ours['clusters'])} {covariance}, PCA {r}, n_init={n_init}",
          ours["mean_log_likelihood"], score, f"{100 * rel:.3f} %", "within 1 %", rel <= 0.01, took(ours), s)
    # Started from our fit (the M-step of our final assignments), scikit-learn's EM should end
    # at our optimum: a check of our EM and likelihood that random starts cannot blur.
    start = mixture_from_labels(z, run.array("gmm-labels.npy"), int(ours["clusters"]), covariance)
    if start is not None:
        gm2 = GaussianMixture(n_components=int(ours["clusters"]), covariance_type=covariance, reg_covar=1e-6,
                              weights_init=start[0], means_init=start[1], precisions_init=start[2]).fit(z)
        score2 = float(gm2.score(z))
        rel = relative(ours["mean_log_likelihood"], score2)
        t.add(name, "gmm", f"mean log-likelihood, sklearn EM started from our fit (it ran {gm2.n_iter_} iteration(s))",
              ours["mean_log_likelihood"], score2, f"{100 * rel:.3f} %", "within 1 %", rel <= 0.01)
    else:
        t.notes.append(f"{name} gmm: a component of our fit holds under 2 samples; no restart from it")
    t.notes.append(f"{name} gmm: EM iterations ours {int(ours['iterations'])} (converged {bool(ours['converged'])}), "
                   f"sklearn {gm.n_iter_} (converged {gm.converged_}); NMI ours {ours['nmi']:.4f}, "
                   f"sklearn {normalized_mutual_info_score(run.y, gm.predict(z)):.4f}")


def mixture_from_labels(z, labels, k, covariance, reg=1e-6):
    """Weights, means and precisions of the M-step on hard assignments (None if a component is nearly empty)."""
    weights, means, precisions = [], [], []
    for c in range(k):
        zc = z[labels == c]
        if len(zc) < 2:
            return None
        m = zc.mean(axis=0)
        d = zc - m
        weights.append(len(zc) / len(z))
        means.append(m)
        if covariance == "full":
            precisions.append(np.linalg.inv(d.T @ d / len(zc) + reg * np.eye(z.shape[1])))
        else:
            precisions.append(1.0 / (np.mean(d * d, axis=0) + reg))
    return np.array(weights), np.array(means), np.array(precisions)


def compare_embedding(t, name, run, method, make, extra):
    ours = run.method(method)
    x = run.x
    def fit():
        estimator = make()
        return estimator, estimator.fit_transform(x)

    (est, emb_sk), s = timed(fit)
    emb_ours = run.array(f"{method}-embedding.npy")
    k = int(ours.get("trustworthiness_k", TRUST_K))
    t_ours = float(trustworthiness(x, emb_ours, n_neighbors=k))
    t_sk = float(trustworthiness(x, emb_sk, n_neighbors=k))
    diff = abs(t_ours - t_sk)
    t.add(name, method, f"trustworthiness k={k} ({run.shape()})", t_ours, t_sk, diff, "abs Δ ≤ 0.01", diff <= 0.01,
          took(ours), s)
    if abs(t_ours - ours["trustworthiness"]) > 1e-4:
        t.notes.append(f"{name} {method}: our summary's trustworthiness {ours['trustworthiness']:.6f} differs from "
                       f"sklearn.manifold.trustworthiness of our embedding, {t_ours:.6f}")
    ours_fig, theirs_fig, label = extra(ours, est)
    t.notes.append(f"{name} {method}: {label} ours {fmt(ours_fig)}, sklearn {fmt(theirs_fig)}")
    return took(ours), s


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", default="runs/bench-analysis")
    p.add_argument("--n-init", type=int, default=10)
    p.add_argument("--gmm-covariance", default="full")
    p.add_argument("--gmm-n-init", type=int, default=1)
    p.add_argument("--neighbors", type=int, default=10)
    p.add_argument("--perplexity", type=float, default=30)
    p.add_argument("--command", help="the bench command that ran analyze, for the report")
    a = p.parse_args()

    header = [f"command: {a.command}" if a.command else None,
              f"command: python3 bench/analysis_sklearn.py {' '.join(sys.argv[1:])}",
              f"CPU: {cpu_model()}, {os.cpu_count()} cores; THREADS={THREADS} on both sides"
              + (f", OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']}" if "OPENBLAS_CORETYPE" in os.environ else ""),
              f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, python {platform.python_version()}"]
    header = [h for h in header if h]
    print("\n".join(header[1:]), flush=True)

    t = Table()
    nmi = {}
    for name in INPUTS:
        base = os.path.join(a.root, name)
        if not os.path.isdir(base):
            continue
        label = INPUTS[name]
        main_run = Run(os.path.join(base, "main"))
        print(f"{label}: {main_run.shape()}", flush=True)
        compare_pca(t, label, main_run)
        _, _, _, nmi_ours, nmi_sk = compare_kmeans(t, label, main_run, a.n_init)
        nmi[name] = (nmi_ours, nmi_sk)
        compare_gmm(t, label, Run(os.path.join(base, "gmm")), a.gmm_covariance, a.gmm_n_init)
        ours_s, sk_s = compare_embedding(
            t, label, main_run, "tsne",
            lambda: TSNE(n_components=2, perplexity=a.perplexity, init="pca", random_state=0, n_jobs=THREADS),
            lambda o, e: (o["kl_divergence"], float(e.kl_divergence_), "KL divergence"))
        if name == "pixels":
            t.speed.append((f"t-SNE of {main_run.shape()} pixels, ours vs scikit-learn", ours_s, sk_s))
        manifold = Run(os.path.join(base, "manifold"))
        compare_embedding(t, label, manifold, "isomap",
                          lambda: Isomap(n_neighbors=a.neighbors, n_components=2, n_jobs=THREADS),
                          lambda o, e: (o["reconstruction_error"], float(e.reconstruction_error()),
                                        f"{a.neighbors} neighbours, reconstruction error"))
        compare_embedding(t, label, manifold, "lle",
                          lambda: LocallyLinearEmbedding(n_neighbors=a.neighbors, n_components=2, random_state=0,
                                                         n_jobs=THREADS),
                          lambda o, e: (o["reconstruction_error"], float(e.reconstruction_error_),
                                        f"{a.neighbors} neighbours, reconstruction error"))
    if "pixels" in nmi and "lenet" in nmi:
        (po, ps), (lo, ls) = nmi["pixels"], nmi["lenet"]
        t.add("pixels → LeNet", "kmeans", "NMI against the labels, pixels → LeNet features",
              f"{po:.4f} → {lo:.4f}", f"{ps:.4f} → {ls:.4f}", f"{lo - po:+.4f} / {ls - ps:+.4f}", "reported", None)

    np1 = os.path.join(a.root, "train", "np1")
    if os.path.isdir(np1):
        one = Run(np1)
        print(f"train pixels: {one.shape()}", flush=True)
        ours, _, sk_s, _, _ = compare_kmeans(t, "train", one, a.n_init, data="train pixels ÷ 255")
        t.speed.append((f"k-means of {one.shape()} pixels (n_init {a.n_init}), ours vs scikit-learn",
                        took(ours), sk_s))
        np2 = os.path.join(a.root, "train", "np2")
        if os.path.isdir(np2):
            two = Run(np2)
            o2 = two.method("kmeans")
            rel = relative(o2["inertia"], ours["inertia"])
            t.add("train pixels ÷ 255", "kmeans", f"inertia, mpirun -np {two.summary['ranks']} vs one process",
                  o2["inertia"], ours["inertia"], f"{100 * rel:.2g} %", "same (within 1 %)", rel <= 0.01)
            t.speed.append((f"k-means of {one.shape()}, mpirun -np {two.summary['ranks']} vs one process",
                            took(o2), took(ours)))
    t.notes.append("ours s: the method's \"fit_seconds\" in summary.json (the fit alone: no pictures, arrays or "
                   "trustworthiness); sklearn s: fit or fit_transform only")

    table = t.markdown()
    print()
    print(table)
    report = os.path.join(a.root, "report.md")
    with open(report, "w") as f:
        f.write("# phalanx analyze vs scikit-learn\n\n" + "\n".join(f"    {h}" for h in header) + "\n\n" + table + "\n")
        commands = sorted(os.path.join(d, "command.txt") for d, _, files in os.walk(a.root) if "command.txt" in files)
        if commands:
            f.write("\nThe analyze runs:\n\n")
            for c in commands:
                with open(c) as g:
                    f.write(f"    {g.read().strip()}\n")
    print(f"\nreport: {report}")
    failed = sum(r[7] == "FAIL" for r in t.rows)
    if failed:
        print(f"{failed} comparison(s) outside their criterion")
        sys.exit(1)


if __name__ == "__main__":
    main()
