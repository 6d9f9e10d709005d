#!/usr/bin/env python3
"""Regenerate the digits CSVs and the three untrained ONNX models in this folder.

Deterministic: running it twice gives byte-identical CSV files (the ONNX files
are checked for numerical agreement, see README.md).

Usage:  python convert.py            (writes next to this script)
        python convert.py --out DIR
"""
import argparse
import os
import warnings

import numpy as np
from sklearn.datasets import load_digits

N_TRAIN = 1437  # 1797 = 1437 + 360 (80/20)
N_PIXELS = 64


def write_csv(path, x, y):
    header = ",".join([f"p{i}" for i in range(N_PIXELS)] + ["label"])
    with open(path, "w", newline="\n") as f:
        f.write(header + "\n")
        for row, label in zip(x, y):
            f.write(",".join("%.6g" % v for v in row) + ",%d\n" % int(label))


def make_csvs(out):
    digits = load_digits()
    x = digits.data.astype(np.float64) / 16.0  # pixels are integers 0..16
    y = digits.target.astype(np.int64)
    assert x.shape == (1797, N_PIXELS), x.shape
    perm = np.random.RandomState(0).permutation(len(x))
    x, y = x[perm], y[perm]
    write_csv(os.path.join(out, "digits_train.csv"), x[:N_TRAIN], y[:N_TRAIN])
    write_csv(os.path.join(out, "digits_test.csv"), x[N_TRAIN:], y[N_TRAIN:])
    print(f"wrote {N_TRAIN} train rows and {len(x) - N_TRAIN} test rows")
    return x[:N_TRAIN]


def make_models(out, sample):
    import onnx
    import onnxruntime as ort
    import torch
    from torch import nn

    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    torch.manual_seed(0)
    cnn = nn.Sequential(
        nn.Conv2d(1, 4, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 10),
    )
    class Squeeze(nn.Module):
        def forward(self, x):
            return x.squeeze(1)

    # A binary classifier (one logit per image, output [batch]), e.g. "is it a zero?".
    torch.manual_seed(0)
    logreg = nn.Sequential(nn.Linear(64, 1), Squeeze())
    rows = torch.tensor(sample[:8], dtype=torch.float32)
    for name, model, x in [
        ("mlp.onnx", mlp, rows),
        ("cnn.onnx", cnn, rows.reshape(-1, 1, 8, 8)),
        ("logreg.onnx", logreg, rows),
    ]:
        model.eval()
        path = os.path.join(out, name)
        # dynamo=False: the TorchScript exporter honours opset 17 and
        # dynamic_axes directly and emits plain Gemm/Conv/AveragePool/Flatten
        # (the torch.export-based default needs onnxscript and targets opset 18+).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.onnx.export(
                model,
                (x[:1],),
                path,
                input_names=["x"],
                output_names=["logits"],
                dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
                opset_version=17,
                do_constant_folding=True,
                dynamo=False,
            )
        proto = onnx.load(path)
        onnx.checker.check_model(proto, full_check=True)
        with torch.no_grad():
            want = model(x).numpy()
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        got = sess.run(["logits"], {"x": x.numpy()})[0]
        diff = float(np.abs(got - want).max())
        ops = [n.op_type for n in proto.graph.node]
        print(f"{name}: ops={ops} onnxruntime-vs-torch max|diff|={diff:.3g} on {len(x)} rows")
        assert diff < 1e-5, diff


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--no-models", action="store_true", help="write the CSVs only (no torch needed)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    sample = make_csvs(args.out)
    if not args.no_models:
        make_models(args.out, sample)


if __name__ == "__main__":
    main()
