"""The Python front end's overhead: the same computations through `crypten_rs` and through the
Rust library (`crypten bench`), in one run, at 2 parties with the trusted third party.

    python crates/crypten-py/bench/bench_python.py --crypten target/release/crypten \
        --reps 7 --json python-bench.json

Every figure is the median of `--reps` timed repetitions after a warm-up, the slowest party's,
as `crypten bench` measures: time, bytes sent per party, rounds. The MLP (784-128-128-10,
batch 64, SGD, labels at party 1) needs torch to build its ONNX file.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import crypten_rs as crypten


def barrier():
    for r in range(crypten.get_world_size()):
        crypten._native.broadcast_shape([0] if r == crypten.get_rank() else None, r)


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
    out["relu"] = measure(reps, lambda: x.relu())
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
    return out


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--crypten", required=True, help="the release `crypten` binary")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        mlp = export_mlp(os.path.join(tmp, "mlp.onnx"))
        py = crypten.mpc.run_multiprocess(world_size=2)(python_side)(args.reps, mlp)
        rust = rust_side(args.crypten, args.reps, tmp)
    rows = []
    print(f"{'op':<22}{'rust':>12}{'python':>12}{'overhead':>10}{'rounds':>10}{'KB/party':>18}")
    for name, p in py.items():
        r = rust.get(name)
        if r is None:
            print(f"{name}: no Rust figure", file=sys.stderr)
            continue
        overhead = p["seconds"] / r["seconds"] - 1
        rows.append({"op": name, "rust": r, "python": p, "overhead": overhead})
        print(f"{name:<22}{r['seconds'] * 1e3:>10.2f}ms{p['seconds'] * 1e3:>10.2f}ms"
              f"{overhead * 100:>9.1f}%{r['rounds']:>5}/{p['rounds']:<4}"
              f"{r['bytes_per_party'] / 1e3:>9.0f}/{p['bytes_per_party'] / 1e3:<8.0f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
