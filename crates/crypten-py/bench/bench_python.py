"""The Python front end's overhead: the same computations through `crypten_rs` and through the
Rust library (`crypten bench`), in one run, at 2 parties with the trusted third party.

    python crates/crypten-py/bench/bench_python.py --crypten target/release/crypten \
        --reps 15 --rounds 3 --json python-bench.json [--crypten-anchors ../shared/anchors]

Each op's figure is the median of `--reps` timed repetitions after a warm-up, the slowest
party's, as `crypten bench` measures: time, bytes sent per party, rounds. The Rust and Python
sides alternate `--rounds` times and the table shows the median round (this machine's noise is
about 20% from one run to the next). "in-process" is the same computation timed in Rust inside
the Python parties' own processes (`_native.measure_op`, `measure_train_step`): the front end's
cost without the differences between processes. Rows:
- mul and relu on 1e5 elements;
- a training step of the 784-128-128-10 MLP at batch 64 (labels at party 1): Python runs the
  ONNX graph of a torch export (torch needed), Rust `bench models` runs a `Sequential`;
- an epoch of the digits MLP (data/digits/mlp.onnx, 1,437 rows, batch 32, SGD lr 0.1): the
  same ONNX graph and the same loop as `crypten bench train` (features shared once at party 0,
  labels at party 1, batches selected by a public permutation, losses summed encrypted).
With `--crypten-anchors DIR` (shared/anchors, its venv set up), CrypTen's own Python runs the
same ops and MLP step in the same run.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

# numpy's BLAS starts a thread per core whose workers spin while idle: on a small machine they
# take cores from the parties (4% of all instructions of a party under callgrind). One thread,
# as `crypten bench` has none; set before numpy is imported (forked parties inherit it).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import crypten_rs as crypten  # noqa: E402


def barrier():
    crypten._native.barrier()  # crypten bench's own barrier: one round


def native(figures):
    """The same computation timed in Rust inside this party's process (no Python between the
    repetitions): the front end's cost without the differences between processes."""
    seconds, sent, rounds = figures
    return {"seconds": seconds, "bytes_per_party": sent, "rounds": rounds}


def measure(reps, op):
    """The slowest party's median seconds, and this run's bytes sent and rounds."""
    barrier()
    op()
    times = []
    for _ in range(reps):
        barrier()
        crypten.reset_stats()
        start = time.perf_counter()
        op()
        times.append(time.perf_counter() - start)
        s = crypten.get_stats()
    median = sorted(times)[len(times) // 2]
    mine = [median * 1e3, s["bytes_sent"] / 1e3, s["rounds"]]
    rank = crypten.get_rank()
    every = [
        crypten.cryptensor(mine if rank == src else None, src=src, shape=[3]).get_plain_text()
        for src in range(crypten.get_world_size())
    ]
    worst = np.max(np.stack(every), axis=0)
    return {"seconds": worst[0] / 1e3, "bytes_per_party": int(round(worst[1] * 1e3)),
            "rounds": int(round(worst[2]))}


def python_side(reps, mlp_onnx):
    rng = np.random.default_rng(0)
    rank = crypten.get_rank()
    out = {}
    a, b = rng.uniform(-10, 10, 100_000), rng.uniform(-10, 10, 100_000)
    x = crypten.cryptensor(a if rank == 0 else None, src=0, shape=a.shape)
    y = crypten.cryptensor(b if rank == 1 else None, src=1, shape=b.shape)
    out["mul"] = measure(reps, lambda: x * y)
    out["mul"]["native"] = native(crypten._native.measure_op("mul", x._t, y._t, reps))
    out["relu"] = measure(reps, lambda: x.relu())
    out["relu"]["native"] = native(crypten._native.measure_op("relu", x._t, y._t, reps))
    if mlp_onnx is not None:
        model = crypten.nn.from_onnx(mlp_onnx).encrypt(src=0)
        model.train()
        data = rng.uniform(0, 1, size=(64, 784))
        onehot = np.eye(10)[[(i * 7) % 10 for i in range(64)]]
        xe = crypten.cryptensor(data if rank == 0 else None, src=0, shape=data.shape)
        ye = crypten.cryptensor(onehot if rank == 1 else None, src=1, shape=onehot.shape)
        opt = crypten.optim.SGD(model.parameters(), lr=0.05)
        loss_fn = crypten.nn.CrossEntropyLoss()

        def step():
            opt.zero_grad()
            loss = loss_fn(model(xe), ye)
            loss.backward()
            opt.step()

        out["mlp_train_step_b64"] = measure(reps, step)
        out["mlp_train_step_b64"]["native"] = native(
            crypten._native.measure_train_step(model._m, xe._t, ye._t, 0.05, reps))
    out["digits_epoch"] = digits_epoch()
    return out


def digits_epoch(epochs=2, batch=32, lr=0.1):
    """`crypten bench train`'s loop: the median epoch's seconds, rounds per step, bytes."""
    import pathlib

    digits = pathlib.Path(__file__).resolve().parents[3] / "data" / "digits"
    raw = np.loadtxt(digits / "digits_train.csv", delimiter=",", skiprows=1)
    x, labels = raw[:, :-1], raw[:, -1].astype(int)
    rank = crypten.get_rank()
    onehot = np.eye(10)[labels]
    xs = crypten.cryptensor(x if rank == 0 else None, src=0, shape=x.shape)
    ys = crypten.cryptensor(onehot if rank == 1 else None, src=1, shape=onehot.shape)
    model = crypten.nn.from_onnx(digits / "mlp.onnx").encrypt(src=0)
    model.train()
    opt = crypten.optim.SGD(model.parameters(), lr=lr)
    loss_fn = crypten.nn.CrossEntropyLoss()
    seconds, rounds, sent, steps = [], [], [], 0
    for epoch in range(epochs):
        order = np.random.default_rng(epoch).permutation(len(x))
        barrier()
        crypten.reset_stats()
        start = time.perf_counter()
        total, steps = None, 0
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            opt.zero_grad()
            loss = loss_fn(model(xs[idx]), ys[idx])
            loss.backward()
            opt.step()
            loss = loss.detach()  # summed outside the graph, as fit does
            total = loss if total is None else total + loss
            steps += 1
        total.get_plain_text()
        seconds.append(time.perf_counter() - start)
        s = crypten.get_stats()
        rounds.append(s["rounds"] / steps)
        sent.append(s["bytes_sent"] / steps)
    mine = [sorted(seconds)[len(seconds) // 2] * 1e3, sorted(sent)[len(sent) // 2] / 1e3,
            sorted(rounds)[len(rounds) // 2]]
    every = [
        crypten.cryptensor(mine if rank == src else None, src=src, shape=[3]).get_plain_text()
        for src in range(crypten.get_world_size())
    ]
    worst = np.max(np.stack(every), axis=0)
    return {"seconds": worst[0] / 1e3, "bytes_per_party": int(round(worst[1] * 1e3)),
            "rounds": round(float(worst[2]), 1), "unit": "epoch (rounds, bytes per step)"}


def export_mlp(path):
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 128), torch.nn.ReLU(),
        torch.nn.Linear(128, 10))
    torch.onnx.export(model, (torch.zeros(1, 784),), path, input_names=["x"],
                      dynamic_axes={"x": {0: "batch"}}, opset_version=17, dynamo=False)
    return path


def rust_side(binary, reps, tmp):
    out = {}
    path = os.path.join(tmp, "train.json")
    subprocess.run([binary, "bench", "train", "--parties", "2", "--epochs", "2", "--json", path],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(path) as f:
        record = json.load(f)[0]
    out["digits_epoch"] = {"seconds": record["seconds_per_epoch"],
                           "bytes_per_party": int(round(max(record["bytes_sent_per_step_per_party"]))),
                           "rounds": round(record["rounds_per_step"], 1)}
    for suite, only in (("ops", "mul,relu"), ("models", "mlp_train_step_b64")):
        path = os.path.join(tmp, f"{suite}.json")
        subprocess.run([binary, "bench", suite, "--parties", "2", "--provider", "ttp",
                        "--only", only, "--reps", str(reps), "--json", path],
                       check=True, stdout=subprocess.DEVNULL)
        with open(path) as f:
            for record in json.load(f):
                name = record.get("op") or record.get("name") or record.get("model")
                out[name] = {k: record[k] for k in ("seconds", "bytes_per_party", "rounds")}
    return out


def crypten_side(anchors, tmp):
    """CrypTen 0.4.1's own figures (2 parties, TTP) from its harness in shared/anchors."""
    py = os.path.join(anchors, ".venv", "bin", "python")
    out_json = os.path.join(tmp, "crypten.json")
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    subprocess.run([py, os.path.join(anchors, "crypten_ops_bench.py"), "--world-sizes", "2",
                    "--providers", "TTP", "--e2e-world-sizes", "2", "--e2e-providers", "TTP",
                    "--only", "mul", "relu", "--reps", "7", "--e2e-reps", "3",
                    "--workdir", os.path.join(tmp, "crypten-work"),
                    "--out-json", out_json, "--out-md", os.path.join(tmp, "crypten.md")],
                   check=True, stdout=subprocess.DEVNULL, env=env)
    with open(out_json) as f:
        return json.load(f)


def median_round(runs, name):
    values = sorted((r[name] for r in runs if name in r), key=lambda m: m["seconds"])
    return values[len(values) // 2] if values else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--crypten", required=True, help="the release `crypten` binary")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3, help="alternations of Rust and Python")
    parser.add_argument("--crypten-anchors", help="shared/anchors, to run CrypTen beside us")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    py_runs, rust_runs = [], []
    cr = None
    with tempfile.TemporaryDirectory() as tmp:
        mlp = export_mlp(os.path.join(tmp, "mlp.onnx"))
        for k in range(args.rounds):
            rust_runs.append(rust_side(args.crypten, args.reps, tmp))
            py_runs.append(crypten.mpc.run_multiprocess(world_size=2)(python_side)(args.reps, mlp))
            if k == 0 and args.crypten_anchors:
                cr = crypten_side(args.crypten_anchors, tmp)
    rows = []
    print(f"{'op':<20}{'rust':>11}{'in-process':>12}{'python':>11}{'vs rust':>9}{'vs in-proc':>11}"
          f"{'rounds':>14}{'KB/party':>16}" + (f"{'CrypTen':>11}" if cr else ""))
    for name in py_runs[0]:
        p, r = median_round(py_runs, name), median_round(rust_runs, name)
        if r is None:
            print(f"{name}: no Rust figure", file=sys.stderr)
            continue
        overhead = p["seconds"] / r["seconds"] - 1
        natives = sorted(x[name]["native"]["seconds"] for x in py_runs if "native" in x[name])
        n = natives[len(natives) // 2] if natives else None
        vs_native = None if n is None else p["seconds"] / n - 1
        row = {"op": name, "rust": r, "python": p, "overhead": overhead,
               "in_process": n, "overhead_in_process": vs_native,
               "rust_runs": [x[name]["seconds"] for x in rust_runs],
               "python_runs": [x[name]["seconds"] for x in py_runs],
               "in_process_runs": [x[name]["native"]["seconds"] for x in py_runs
                                   if "native" in x[name]]}
        line = (f"{name:<20}{r['seconds'] * 1e3:>9.2f}ms"
                + (f"{n * 1e3:>10.2f}ms" if n is not None else f"{'-':>12}")
                + f"{p['seconds'] * 1e3:>9.2f}ms{overhead * 100:>8.1f}%"
                + (f"{vs_native * 100:>10.1f}%" if vs_native is not None else f"{'-':>11}")
                + f"{r['rounds']:>7}/{p['rounds']:<6}"
                f"{r['bytes_per_party'] / 1e3:>8.0f}/{p['bytes_per_party'] / 1e3:<7.0f}")
        if cr:
            c = crypten_figure(cr, name)
            row["crypten"] = c
            line += f"{c['seconds'] * 1e3:>9.2f}ms" if c else f"{'-':>11}"
        rows.append(row)
        print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


def crypten_figure(results, name):
    """CrypTen's median for one of our rows (2 parties, TTP), if its harness measured it."""
    for section in ("ops", "e2e"):
        record = results.get(section, {}).get("TTP_ws2", {}).get("merged", {}).get(name)
        if record and "time" in record:
            return {"seconds": record["time"]["median_s"], "desc": record.get("desc")}
    return None


if __name__ == "__main__":
    main()
