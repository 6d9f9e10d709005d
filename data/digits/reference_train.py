#!/usr/bin/env python3
"""Plaintext float64 reference for private training on the digits data.

Loads the initial weights of an ONNX model in this folder (mlp.onnx by
default, or cnn.onnx), trains it with plain mini-batch SGD and prints one line
per epoch:

    epoch E loss L test_accuracy A

Training recipe (fixed, so an MPC run can be compared against it):
  * data: digits_train.csv for training, digits_test.csv for evaluation;
    the 64 pixel columns are reshaped to the model's input shape;
  * rows are used in file order, no shuffling; batches of 32, the last batch
    of an epoch holds the remaining 1437 - 44*32 = 29 rows;
  * loss: softmax cross-entropy, mean over the rows of the batch;
  * update: w -= lr * grad, lr 0.1, no momentum, no weight decay;
  * L is the mean per-row training loss over the epoch, each row's loss taken
    in the forward pass of its batch (before that batch's update), i.e.
    sum(batch_loss * batch_rows) / 1437;
  * A is the fraction of test rows whose argmax logit (first index on ties)
    equals the label, measured after the epoch.

The graph is run by a small interpreter for chains of Gemm, Relu, Conv,
AveragePool and Flatten, written in numpy (float64).  `--engine torch` runs the
same recipe with torch autograd in float64 instead, as a cross-check.

Usage: python reference_train.py [--model cnn.onnx] [--epochs 5] [--lr 0.1]
                                 [--batch 32] [--engine numpy|torch]
                                 [--save trained.onnx]
`--save` writes the trained weights (as float32) into a copy of the model.
"""
import argparse
import os

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def load_csv(path):
    data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)
    return data[:, :64], data[:, 64].astype(np.int64)


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def load_chain(path):
    """Returns (input shape without batch, [(op, attrs, [param names])], params)."""
    model = onnx.load(path)
    g = model.graph
    params = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in g.initializer}
    dims = g.input[0].type.tensor_type.shape.dim
    in_shape = tuple(d.dim_value for d in dims[1:])
    chain = []
    prev = g.input[0].name
    for n in g.node:
        assert n.input[0] == prev, f"{n.op_type}: graph is not a simple chain"
        chain.append((n.op_type, attrs(n), list(n.input[1:])))
        prev = n.output[0]
    assert prev == g.output[0].name
    return in_shape, chain, params


# ---------------------------------------------------------------- numpy engine


def im2col(x, kh, kw, stride, pads):
    """x [N,C,H,W] -> cols [N, OH, OW, C*kh*kw] (pads: top, left, bottom, right)."""
    t, l, b, r = pads
    x = np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)))
    n, c, h, w = x.shape
    oh = (h - kh) // stride + 1
    ow = (w - kw) // stride + 1
    cols = np.empty((n, oh, ow, c, kh, kw))
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, :, i, j] = x[:, :, i : i + stride * oh : stride, j : j + stride * ow : stride].transpose(0, 2, 3, 1)
    return cols.reshape(n, oh, ow, c * kh * kw)


def col2im(dcols, x_shape, kh, kw, stride, pads):
    t, l, b, r = pads
    n, c, h, w = x_shape
    dx = np.zeros((n, c, h + t + b, w + l + r))
    _, oh, ow, _ = dcols.shape
    dcols = dcols.reshape(n, oh, ow, c, kh, kw)
    for i in range(kh):
        for j in range(kw):
            dx[:, :, i : i + stride * oh : stride, j : j + stride * ow : stride] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return dx[:, :, t : t + h, l : l + w]


def forward(chain, params, x):
    """Runs the chain; returns logits and the per-node caches for backward."""
    caches = []
    for op, a, names in chain:
        if op == "Gemm":
            assert a.get("alpha", 1.0) == 1.0 and a.get("beta", 1.0) == 1.0 and not a.get("transA", 0)
            w = params[names[0]]
            wm = w.T if a.get("transB", 0) else w
            caches.append(x)
            x = x @ wm + (params[names[1]] if len(names) > 1 else 0.0)
        elif op == "Relu":
            caches.append(x > 0)
            x = np.maximum(x, 0.0)
        elif op == "Conv":
            assert a.get("group", 1) == 1 and all(d == 1 for d in a.get("dilations", [1, 1]))
            w = params[names[0]]
            s = a.get("strides", [1, 1])
            assert s[0] == s[1]
            co, ci, kh, kw = w.shape
            pads = a.get("pads", [0, 0, 0, 0])
            pads = (pads[0], pads[1], pads[2], pads[3])
            cols = im2col(x, kh, kw, s[0], pads)
            caches.append((cols, x.shape, pads, s[0]))
            y = cols @ w.reshape(co, -1).T  # [N, OH, OW, CO]
            if len(names) > 1:
                y = y + params[names[1]]
            x = y.transpose(0, 3, 1, 2)
        elif op == "AveragePool":
            k = a["kernel_shape"]
            s = a.get("strides", k)
            assert list(k) == list(s) and not any(a.get("pads", [0])) and not a.get("ceil_mode", 0)
            n, c, h, w = x.shape
            oh, ow = h // k[0], w // k[1]
            caches.append((x.shape, k))
            x = x[:, :, : oh * k[0], : ow * k[1]].reshape(n, c, oh, k[0], ow, k[1]).mean(axis=(3, 5))
        elif op == "Flatten":
            assert a.get("axis", 1) == 1
            caches.append(x.shape)
            x = x.reshape(x.shape[0], -1)
        else:
            raise NotImplementedError(op)
    return x, caches


def backward(chain, params, caches, dy):
    grads = {}
    for (op, a, names), cache in zip(reversed(chain), reversed(caches)):
        if op == "Gemm":
            x = cache
            w = params[names[0]]
            if a.get("transB", 0):
                grads[names[0]] = dy.T @ x
                dx = dy @ w
            else:
                grads[names[0]] = x.T @ dy
                dx = dy @ w.T
            if len(names) > 1:
                grads[names[1]] = dy.sum(axis=0)
            dy = dx
        elif op == "Relu":
            dy = dy * cache
        elif op == "Conv":
            cols, x_shape, pads, s = cache
            w = params[names[0]]
            co, ci, kh, kw = w.shape
            dyt = dy.transpose(0, 2, 3, 1)  # [N, OH, OW, CO]
            grads[names[0]] = (dyt.reshape(-1, co).T @ cols.reshape(-1, ci * kh * kw)).reshape(w.shape)
            if len(names) > 1:
                grads[names[1]] = dyt.sum(axis=(0, 1, 2))
            dy = col2im(dyt @ w.reshape(co, -1), x_shape, kh, kw, s, pads)
        elif op == "AveragePool":
            x_shape, k = cache
            dx = np.zeros(x_shape)
            n, c, oh, ow = dy.shape
            up = np.repeat(np.repeat(dy, k[0], axis=2), k[1], axis=3) / (k[0] * k[1])
            dx[:, :, : oh * k[0], : ow * k[1]] = up
            dy = dx
        elif op == "Flatten":
            dy = dy.reshape(cache)
    return grads


def softmax_xent(logits, y):
    """Mean cross-entropy over the batch and its gradient w.r.t. the logits."""
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    n = len(y)
    loss = -logp[np.arange(n), y].mean()
    d = np.exp(logp)
    d[np.arange(n), y] -= 1.0
    return loss, d / n


def save(path, src, params):
    model = onnx.load(src)
    for init in model.graph.initializer:
        init.CopyFrom(numpy_helper.from_array(np.asarray(params[init.name], dtype=np.float32), init.name))
    onnx.checker.check_model(model)
    onnx.save(model, path)


def train_numpy(chain, params, in_shape, xtr, ytr, xte, yte, args):
    for epoch in range(1, args.epochs + 1):
        total = 0.0
        for i in range(0, len(xtr), args.batch):
            xb = xtr[i : i + args.batch].reshape((-1,) + in_shape)
            yb = ytr[i : i + args.batch]
            logits, caches = forward(chain, params, xb)
            loss, dlogits = softmax_xent(logits, yb)
            total += loss * len(yb)
            for name, g in backward(chain, params, caches, dlogits).items():
                params[name] -= args.lr * g
        logits, _ = forward(chain, params, xte.reshape((-1,) + in_shape))
        acc = float((logits.argmax(axis=1) == yte).mean())
        print(f"epoch {epoch} loss {total / len(xtr):.6f} test_accuracy {acc:.6f}", flush=True)
    return params


# ---------------------------------------------------------------- torch engine


def train_torch(chain, params, in_shape, xtr, ytr, xte, yte, args):
    import torch
    import torch.nn.functional as F

    p = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}

    def run(x):
        for op, a, names in chain:
            if op == "Gemm":
                w = p[names[0]]
                x = x @ (w.T if a.get("transB", 0) else w) + p[names[1]]
            elif op == "Relu":
                x = torch.relu(x)
            elif op == "Conv":
                pads = a.get("pads", [0, 0, 0, 0])
                assert pads[0] == pads[2] and pads[1] == pads[3]
                x = F.conv2d(x, p[names[0]], p[names[1]], stride=a.get("strides", [1, 1]), padding=(pads[0], pads[1]))
            elif op == "AveragePool":
                x = F.avg_pool2d(x, a["kernel_shape"], a.get("strides", a["kernel_shape"]))
            elif op == "Flatten":
                x = x.flatten(1)
            else:
                raise NotImplementedError(op)
        return x

    xtr_t = torch.tensor(xtr, dtype=torch.float64)
    ytr_t = torch.tensor(ytr)
    xte_t = torch.tensor(xte, dtype=torch.float64).reshape((-1,) + in_shape)
    for epoch in range(1, args.epochs + 1):
        total = 0.0
        for i in range(0, len(xtr), args.batch):
            xb = xtr_t[i : i + args.batch].reshape((-1,) + in_shape)
            yb = ytr_t[i : i + args.batch]
            loss = F.cross_entropy(run(xb), yb)
            total += loss.item() * len(yb)
            grads = torch.autograd.grad(loss, list(p.values()))
            with torch.no_grad():
                for t, g in zip(p.values(), grads):
                    t -= args.lr * g
        with torch.no_grad():
            acc = float((run(xte_t).argmax(dim=1).numpy() == yte).mean())
        print(f"epoch {epoch} loss {total / len(xtr):.6f} test_accuracy {acc:.6f}", flush=True)
    return {k: v.detach().numpy() for k, v in p.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mlp.onnx")
    ap.add_argument("--train", default="digits_train.csv")
    ap.add_argument("--test", default="digits_test.csv")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--engine", choices=["numpy", "torch"], default="numpy")
    ap.add_argument("--save", metavar="OUT.onnx", help="write the trained model here")
    args = ap.parse_args()

    def here(p):
        return p if os.path.exists(p) else os.path.join(HERE, p)

    in_shape, chain, params = load_chain(here(args.model))
    xtr, ytr = load_csv(here(args.train))
    xte, yte = load_csv(here(args.test))
    train = train_numpy if args.engine == "numpy" else train_torch
    params = train(chain, params, in_shape, xtr, ytr, xte, yte, args)
    if args.save:
        save(args.save, here(args.model), params)


if __name__ == "__main__":
    main()
