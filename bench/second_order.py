#!/usr/bin/env python3
"""Second-order training checked against PyTorch and SciPy, side by side in one run.

Two full-batch problems on all 60 000 Fashion-MNIST training images (pixels / 255):
  logreg  multinomial logistic regression 784 → 10 (convex; configs/fashion-logreg-lbfgs.yaml)
  mlp     784 → 64 (tanh) → 10 (non-convex; configs/fashion-mlp-lbfgs.yaml)
The objective is mean softmax cross-entropy + λ₂·Σ‖W‖² (weight matrices only, λ₂ = 0.0005).
Every method starts from the same weights (drawn here, handed to Phalanx as a safetensors
file through init_from.checkpoint): Phalanx lbfgs and cg (and sgd, adam on logreg),
torch.optim.LBFGS (float32, strong Wolfe), scipy.optimize.minimize L-BFGS-B and CG
(float64). Each final objective is computed by one float64 numpy function on the final
weights, so the table does not depend on any tool's own loss reporting. The plot puts
that objective minus the best one against wall time (Phalanx: each epoch's checkpoint).

    swift build -c release --product phalanx
    python3 bench/second_order.py [--quick] [--phalanx PATH] [--skip-phalanx] [--json OUT]
    (needs: pip install numpy torch scipy matplotlib safetensors; THREADS=2 unless set)
"""
import argparse
import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time


def blas_env():
    """As launch/blas-env: OpenBLAS's kernels for Intel CPUs it would not recognise."""
    flags = cpu_flags()
    with open("/proc/cpuinfo") as f:
        intel = "GenuineIntel" in f.read()
    if "OPENBLAS_CORETYPE" not in os.environ and intel:
        if {"avx512f", "avx512bw"} <= flags:
            os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"
        elif {"avx2", "fma"} <= flags:
            os.environ["OPENBLAS_CORETYPE"] = "Haswell"


def cpu_flags():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        line = next(l for l in out.splitlines() if l.startswith("Flags:"))
    except (OSError, StopIteration):
        with open("/proc/cpuinfo") as f:
            line = next((l for l in f if l.startswith("flags")), "")
    return set(line.split(":", 1)[-1].split())


def cpu_name():
    with open("/proc/cpuinfo") as f:
        model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "unknown CPU")
    return f"{model}, avx512f {'yes' if 'avx512f' in cpu_flags() else 'no'}"


# Thread counts and BLAS kernels are fixed before numpy and torch load their libraries.
THREADS = int(os.environ.get("THREADS", "2"))
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, str(THREADS))
blas_env()

import numpy as np  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"
L2 = 0.0005
MAX_ITER, HISTORY, TOL_GRAD, TOL_CHANGE = 20, 10, 1e-5, 1e-9
# Each problem: its Phalanx config and its linear layers (name, outputs), tanh between them.
PROBLEMS = {
    "logreg": ("configs/fashion-logreg-lbfgs.yaml", [("fc", 10)]),
    "mlp": ("configs/fashion-mlp-lbfgs.yaml", [("fc1", 64), ("fc2", 10)]),
}


def fashion_train():
    with gzip.open(f"{DATA}/train-images-idx3-ubyte.gz") as f:
        _, n, rows, cols = struct.unpack(">IIII", f.read(16))
        x = np.frombuffer(f.read(), dtype=np.uint8).reshape(n, rows * cols).astype(np.float64) / 255.0
    with gzip.open(f"{DATA}/train-labels-idx1-ubyte.gz") as f:
        f.read(8)
        y = np.frombuffer(f.read(), dtype=np.uint8).astype(np.int64)
    return x, y


def initial_weights(layers, seed):
    """PyTorch Linear's default: weight and bias uniform in ±1/sqrt(fan_in); float32."""
    rng, fan_in, params = np.random.default_rng(seed), 784, {}
    for name, out in layers:
        bound = 1.0 / np.sqrt(fan_in)
        params[f"{name}.weight"] = rng.uniform(-bound, bound, (out, fan_in)).astype(np.float32)
        params[f"{name}.bias"] = rng.uniform(-bound, bound, out).astype(np.float32)
        fan_in = out
    return params


def objective(params, layers, x, y, grad=False):
    """Mean cross-entropy + λ₂·Σ‖W‖² in float64: (objective, data loss, gradients or None)."""
    p = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    acts = [x]
    for i, (name, _) in enumerate(layers):
        z = acts[-1] @ p[f"{name}.weight"].T + p[f"{name}.bias"]
        acts.append(np.tanh(z) if i + 1 < len(layers) else z)
    z = acts.pop()
    z = z - z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=1))
    n = len(y)
    ce = float(np.mean(lse - z[np.arange(n), y]))
    f = ce + L2 * sum(float(np.sum(p[f"{name}.weight"] ** 2)) for name, _ in layers)
    if not grad:
        return f, ce, None
    dz = np.exp(z - lse[:, None])
    dz[np.arange(n), y] -= 1.0
    dz /= n
    grads = {}
    for i in reversed(range(len(layers))):
        name = layers[i][0]
        w = p[f"{name}.weight"]
        grads[f"{name}.weight"] = dz.T @ acts[i] + 2 * L2 * w
        grads[f"{name}.bias"] = dz.sum(axis=0)
        if i > 0:
            dz = (dz @ w) * (1.0 - acts[i] ** 2)
    return f, ce, grads


def run_scipy(method, params0, layers, x, y, maxiter):
    from scipy.optimize import minimize

    names = list(params0)
    shapes = [params0[k].shape for k in names]
    cuts = np.cumsum([0] + [int(np.prod(s)) for s in shapes])

    def unpack(v):
        return {k: v[cuts[i]:cuts[i + 1]].reshape(shapes[i]) for i, k in enumerate(names)}

    def fun(v):
        f, _, g = objective(unpack(v), layers, x, y, grad=True)
        return f, np.concatenate([g[k].ravel() for k in names])

    curve, start = [], time.perf_counter()

    def callback(intermediate_result):
        curve.append((time.perf_counter() - start, float(intermediate_result.fun)))

    x0 = np.concatenate([params0[k].astype(np.float64).ravel() for k in names])
    options = {"maxiter": maxiter} | ({"maxcor": HISTORY} if method == "L-BFGS-B" else {})
    r = minimize(fun, x0, jac=True, method=method, options=options, callback=callback)
    seconds = time.perf_counter() - start
    return dict(params=unpack(r.x), iterations=int(r.nit), evaluations=int(r.nfev), seconds=seconds,
                curve=curve, note=r.message if isinstance(r.message, str) else str(r.message))


def run_torch_lbfgs(params0, layers, x, y, steps):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(THREADS)
    xt, yt = torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y)
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params0.items()}
    opt = torch.optim.LBFGS(list(p.values()), lr=1, max_iter=MAX_ITER, history_size=HISTORY,
                            line_search_fn="strong_wolfe", tolerance_grad=TOL_GRAD, tolerance_change=TOL_CHANGE)

    def closure():
        opt.zero_grad()
        a = xt
        for i, (name, _) in enumerate(layers):
            a = a @ p[f"{name}.weight"].T + p[f"{name}.bias"]
            if i + 1 < len(layers):
                a = torch.tanh(a)
        loss = F.cross_entropy(a, yt) + L2 * sum((p[f"{name}.weight"] ** 2).sum() for name, _ in layers)
        loss.backward()
        return loss

    state = opt.state[opt.param_groups[0]["params"][0]]
    seconds, curve, steps_done = 0.0, [], 0
    for _ in range(steps):
        before = (state.get("n_iter", 0), state.get("func_evals", 0))
        t0 = time.perf_counter()
        opt.step(closure)
        seconds += time.perf_counter() - t0
        steps_done += 1
        weights = {k: v.detach().numpy() for k, v in p.items()}
        curve.append((seconds, objective(weights, layers, x, y)[0]))  # outside the timer
        its, evals = state["n_iter"] - before[0], state["func_evals"] - before[1]
        if its < MAX_ITER and evals < opt.param_groups[0]["max_eval"]:
            break  # a tolerance ended the step: converged, as Phalanx ends its run
    return dict(params={k: v.detach().numpy() for k, v in p.items()}, iterations=int(state["n_iter"]),
                evaluations=int(state["func_evals"]), seconds=seconds, curve=curve, note=f"{steps_done} steps")


def run_phalanx(args, problem, kind, epochs, init, workdir, x, y, extra=()):
    from safetensors.numpy import load_file

    config, layers = PROBLEMS[problem]
    name = f"{problem}-{kind}"
    runs = os.path.join(workdir, "runs")
    cmd = [args.phalanx, "train", "--config", config, "--plain", "--set", f"name={name}",
           "--set", f"checkpoint.directory={runs}", "--set", "checkpoint.keep=100000",
           "--set", f"init_from.checkpoint={init}", "--set", f"train.epochs={epochs}",
           "--set", f"train.threads={THREADS}", "--set", f"train.optimizer.kind={kind}", *extra]
    t0 = time.perf_counter()
    with open(os.path.join(workdir, f"{name}.log"), "w") as log:
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
    process = time.perf_counter() - t0
    if rc != 0:
        with open(log.name) as f:
            sys.exit(f"phalanx failed ({rc}): {' '.join(cmd)}\n{f.read()[-3000:]}")
    run = os.path.join(runs, name)
    with open(os.path.join(run, "summary.json")) as f:
        summary = json.load(f)
    with open(os.path.join(run, "metrics.jsonl")) as f:
        train = [r for r in map(json.loads, f) if r.get("split") == "train"]
    # Every epoch's checkpoint, evaluated by the shared function, at the time its epoch ended.
    curve = []
    for r in train:
        ckpt = os.path.join(run, "checkpoints", f"step-{r['step']:06d}", "model.safetensors")
        if os.path.exists(ckpt):
            curve.append((r["time"], objective(load_file(ckpt), layers, x, y)[0]))
    params = load_file(os.path.join(run, "checkpoints", "latest", "model.safetensors"))
    metrics = summary.get("metrics", summary)
    if kind in ("sgd", "adam"):  # minibatch steps; evaluations as passes over the data
        its, evals = summary["steps"], round(summary["steps"] * args.batch / len(y))
    else:
        its, evals = int(metrics["optimizer_iterations"]), int(metrics["optimizer_evaluations"])
    return dict(params=params, iterations=its, evaluations=evals, seconds=train[-1]["time"], process=process,
                curve=curve, note=f"{len(train)} epochs")


def compare(args, problem, x, y):
    config, layers = PROBLEMS[problem]
    e = args.epochs[problem]
    params0 = initial_weights(layers, args.seed)
    workdir = os.path.join(args.workdir, problem)
    os.makedirs(workdir, exist_ok=True)
    init = os.path.join(workdir, "init.safetensors")
    from safetensors.numpy import save_file
    save_file(params0, init)
    f0 = objective(params0, layers, x, y)[0]
    print(f"\n{problem}: {config}, {sum(v.size for v in params0.values())} parameters, "
          f"initial objective {f0:.6f} (seed {args.seed})", flush=True)

    results = {}
    if not args.skip_phalanx:
        results["phalanx lbfgs"] = run_phalanx(args, problem, "lbfgs", e["lbfgs"], init, workdir, x, y)
        results["phalanx cg"] = run_phalanx(args, problem, "cg", e["cg"], init, workdir, x, y)
        if problem == "logreg":
            batch = ["--set", f"train.batch_size={args.batch}"]
            results["phalanx sgd"] = run_phalanx(args, problem, "sgd", e["sgd"], init, workdir, x, y, batch + [
                "--set", f"train.optimizer.lr={args.sgd_lr}", "--set", f"train.optimizer.momentum={args.momentum}"])
            results["phalanx adam"] = run_phalanx(args, problem, "adam", e["adam"], init, workdir, x, y, batch + [
                "--set", f"train.optimizer.lr={args.adam_lr}"])
    results["torch LBFGS"] = run_torch_lbfgs(params0, layers, x, y, e["lbfgs"])
    results["scipy L-BFGS-B"] = run_scipy("L-BFGS-B", params0, layers, x, y, e["lbfgs"] * MAX_ITER)
    results["scipy CG"] = run_scipy("CG", params0, layers, x, y, e["cg"] * MAX_ITER)
    for r in results.values():
        r["objective"] = objective(r["params"], layers, x, y)[0]
        r["curve"].insert(0, (0.0, f0))
    best = min(r["objective"] for r in results.values())

    print(f"{'method':16s} {'objective':>14s} {'rel. to best':>12s} {'iterations':>10s} {'evaluations':>11s} "
          f"{'seconds':>8s} {'process s':>9s}  note")
    for method, r in results.items():
        rel = (r["objective"] - best) / abs(best)
        process = f"{r['process']:9.2f}" if "process" in r else " " * 9
        print(f"{method:16s} {r['objective']:14.9f} {rel:12.2e} {r['iterations']:10d} {r['evaluations']:11d} "
              f"{r['seconds']:8.2f} {process}  {r['note']}")
    print("seconds: the optimisation alone (Phalanx: its last epoch's time, after loading the data; "
          "process s: the whole phalanx command).")
    if problem == "logreg":
        print("sgd, adam: iterations are minibatch steps, evaluations passes over the 60 000 images.")
        ref = results["scipy L-BFGS-B"]["objective"]
        for method in [m for m in results if m not in ("scipy L-BFGS-B", "phalanx sgd", "phalanx adam")]:
            rel = abs(results[method]["objective"] - ref) / abs(ref)
            print(f"{method} within 1e-4 relative of scipy L-BFGS-B: {'yes' if rel <= 1e-4 else 'NO'} ({rel:.1e})")
    return {m: {k: v for k, v in r.items() if k != "params"} | {"relative_to_best": (r["objective"] - best) / abs(best)}
            for m, r in results.items()}, best


def plot(path, results, best, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for method, r in results.items():  # the best run's last point (0) falls off the log scale
        t, f = zip(*[(t, v - best) for t, v in r["curve"] if v > best])
        ax.plot(t, f, marker=".", label=method,
                linestyle="--" if method.startswith(("torch", "scipy")) else "-")
    ax.set_yscale("log")
    ax.set_xlabel("wall seconds (optimisation)")
    ax.set_ylabel(f"objective − best ({best:.6f})")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=120)
    print(f"plot: {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--phalanx", default=".build/release/phalanx")
    ap.add_argument("--skip-phalanx", action="store_true", help="only torch and scipy (no init_from needed)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: few epochs")
    ap.add_argument("--problems", default="logreg,mlp")
    ap.add_argument("--lbfgs-epochs", type=int, default=15, help="logreg lbfgs steps of max_iter 20")
    ap.add_argument("--cg-epochs", type=int, default=40)
    ap.add_argument("--sgd-epochs", type=int, default=300, help="as long as L-BFGS takes, for the plot")
    ap.add_argument("--adam-epochs", type=int, default=300)
    ap.add_argument("--mlp-lbfgs-epochs", type=int, default=10)
    ap.add_argument("--mlp-cg-epochs", type=int, default=15)
    ap.add_argument("--batch", type=int, default=600, help="sgd and adam minibatch")
    ap.add_argument("--sgd-lr", type=float, default=0.1)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--adam-lr", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", help="kept when given (default: a temporary directory, removed)")
    ap.add_argument("--plot", help="the logreg plot (default docs/second-order-logreg.png; none with --quick)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    args.phalanx = os.path.abspath(args.phalanx)
    if args.quick:
        args.lbfgs_epochs, args.cg_epochs, args.sgd_epochs, args.adam_epochs = 3, 5, 2, 2
        args.mlp_lbfgs_epochs, args.mlp_cg_epochs = 2, 3
    elif args.plot is None:
        args.plot = "docs/second-order-logreg.png"
    args.epochs = {"logreg": dict(lbfgs=args.lbfgs_epochs, cg=args.cg_epochs, sgd=args.sgd_epochs, adam=args.adam_epochs),
                   "mlp": dict(lbfgs=args.mlp_lbfgs_epochs, cg=args.mlp_cg_epochs)}
    if not args.skip_phalanx and not os.access(args.phalanx, os.X_OK):
        sys.exit(f"{args.phalanx}: not found (swift build -c release --product phalanx, or --skip-phalanx)")
    keep = args.workdir is not None
    args.workdir = os.path.abspath(args.workdir or tempfile.mkdtemp(prefix="second-order-"))

    cpu = cpu_name()
    core = os.environ.get("OPENBLAS_CORETYPE")
    print(f"command: python3 bench/second_order.py {' '.join(sys.argv[1:])}   (THREADS={THREADS}"
          f"{', OPENBLAS_CORETYPE=' + core if core else ''}, {os.cpu_count()} cores, {time.strftime('%F', time.gmtime())})")
    import scipy
    import torch
    print(f"CPU: {cpu}; numpy {np.__version__}, scipy {scipy.__version__}, torch {torch.__version__}")
    load = os.getloadavg()[0]
    if load > 0.5:  # OpenBLAS's threads spin: a busy core slows numpy's 2-thread gemm many times over
        print(f"warning: load average {load:.1f} before the run: the seconds below are not an idle machine's")
    x, y = fashion_train()
    report = {"command": sys.argv, "cpu": cpu, "threads": THREADS}
    try:
        for problem in args.problems.split(","):
            results, best = compare(args, problem, x, y)
            report[problem] = {"best": best, "results": results}
            if problem == "logreg" and args.plot:
                plot(args.plot, results, best, f"Fashion-MNIST logistic regression, full batch, λ₂ = {L2}\n"
                                               f"{cpu}, {THREADS} threads")
    finally:
        if not keep:
            shutil.rmtree(args.workdir, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
