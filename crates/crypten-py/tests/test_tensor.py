"""The CrypTensor API at 2 and 3 parties, against numpy in float64.

Tolerances: linear operations 1e-3 absolute (16 fractional bits, one truncation); the
non-linear functions 1e-2 relative or absolute inside their documented ranges."""

import numpy as np
import pytest

import crypten_rs as crypten

RNG = np.random.default_rng(7)
A = RNG.uniform(-3, 3, size=(4, 5))
B = RNG.uniform(-3, 3, size=(4, 5))
M = RNG.uniform(-2, 2, size=(5, 3))
POS = RNG.uniform(0.5, 5, size=(3, 4))
IMG = RNG.uniform(-1, 1, size=(2, 2, 6, 6))
KER = RNG.uniform(-1, 1, size=(3, 2, 3, 3))
BIAS = RNG.uniform(-1, 1, size=(3,))


def conv2d_ref(x, w, b, stride=1, padding=0):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh = (h + 2 * padding - kh) // stride + 1
    ow = (wd + 2 * padding - kw) // stride + 1
    out = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.einsum("nchw,ochw->no", patch, w)
    return out + b.reshape(1, -1, 1, 1)


def pool_ref(x, k, fn):
    n, c, h, w = x.shape
    return fn(x.reshape(n, c, h // k, k, w // k, k), axis=(3, 5))


def softmax_ref(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def computations():
    """Every party runs this; the results are revealed to all."""
    rank = crypten.get_rank()
    # Party 0 holds A and the image, party 1 holds B, M and the kernel; the others hold none.
    a = crypten.cryptensor(A if rank == 0 else None, src=0, shape=A.shape)
    b = crypten.cryptensor(B if rank == 1 else np.zeros_like(B), src=1)
    m = crypten.cryptensor(M if rank == 1 else None, src=1, broadcast_size=True)
    pos = crypten.cryptensor(POS, src=0)
    img = crypten.cryptensor(IMG, src=0)
    ker = crypten.cryptensor(KER, src=1)
    out = {}

    def put(name, t):
        out[name] = t.get_plain_text()

    put("add", a + b)
    put("sub", a - b)
    put("rsub", 2.0 - a)
    put("mul", a * b)
    put("mul_public", a * B)
    put("radd_public", B + a)
    put("div_public", a / 4.0)
    put("rdiv", 1.0 / pos)
    put("div_enc", a[:3, :4] / pos)
    put("matmul", a @ m)
    put("matmul_public", a @ M)
    put("rmatmul_public", M.T @ a.t())
    put("neg", -a)
    put("pow3", a ** 3)
    put("square", a.square())
    put("lt", a < b)
    put("ge", a >= b)
    put("gt_scalar", a > 0.5)
    put("eq", a.eq(a))
    put("ne_scalar", a != 100.0)
    put("relu", a.relu())
    put("sigmoid", a.sigmoid())
    put("tanh", a.tanh())
    put("exp", a.exp())
    put("log", pos.log())
    put("sqrt", pos.sqrt())
    put("reciprocal", pos.reciprocal())
    put("abs", a.abs())
    put("softmax", a.softmax(1))
    put("log_softmax", a.log_softmax(-1))
    put("sum", a.sum())
    put("sum0", a.sum(0))
    put("mean1k", a.mean(dim=1, keepdim=True))
    put("max", a.max())
    values, where_max = a.max(dim=1)
    put("max1", values)
    put("max1_onehot", where_max)
    values, where_min = a.min(dim=0, one_hot=False)
    put("min0", values)
    put("min0_index", where_min)
    put("mpctensor", crypten.mpc.MPCTensor(A, src=0))
    put("argmax1", a.argmax(dim=1))
    put("argmax1_index", a.argmax(dim=1, one_hot=False))
    put("argmax_all", a.argmax(one_hot=False))
    put("reshape", a.reshape(2, -1))
    put("view", a.view(5, 4))
    put("transpose", a.transpose(0, 1))
    put("flatten", img.flatten(1))
    put("unsqueeze_squeeze", a.unsqueeze(1).squeeze())
    put("cat", crypten.cat([a, b], dim=1))
    put("stack", crypten.stack([a, b]))
    put("index", a[1])
    put("slice", a[1:3, ::2])
    put("index_tail", a[..., -1])
    put("index_list", a[[0, 2]])
    put("conv2d", img.conv2d(ker, BIAS, padding=1))
    put("conv2d_public", img.conv2d(KER, stride=2))
    put("max_pool2d", img.max_pool2d(2))
    put("avg_pool2d", img.avg_pool2d(2))
    put("adaptive_avg_pool2d", img.adaptive_avg_pool2d(3))
    put("where", crypten.where(a > b, a, b))
    # Reveal to party 1 only: None elsewhere.
    only = a.get_plain_text(dst=1)
    out["dst_is_none_elsewhere"] = (only is None) == (rank != 1)
    out["shape"] = (a @ m).shape
    out["rank"] = rank
    return out


EXPECTED = {
    "add": A + B,
    "sub": A - B,
    "rsub": 2.0 - A,
    "mul": A * B,
    "mul_public": A * B,
    "radd_public": B + A,
    "div_public": A / 4.0,
    "rdiv": 1.0 / POS,
    "div_enc": A[:3, :4] / POS,
    "matmul": A @ M,
    "matmul_public": A @ M,
    "rmatmul_public": M.T @ A.T,
    "neg": -A,
    "pow3": A ** 3,
    "square": A ** 2,
    "lt": (A < B).astype(float),
    "ge": (A >= B).astype(float),
    "gt_scalar": (A > 0.5).astype(float),
    "eq": np.ones_like(A),
    "ne_scalar": np.ones_like(A),
    "relu": np.maximum(A, 0),
    "sigmoid": 1 / (1 + np.exp(-A)),
    "tanh": np.tanh(A),
    "exp": np.exp(A),
    "log": np.log(POS),
    "sqrt": np.sqrt(POS),
    "reciprocal": 1 / POS,
    "abs": np.abs(A),
    "softmax": softmax_ref(A, 1),
    "log_softmax": np.log(softmax_ref(A, 1)),
    "sum": A.sum(),
    "sum0": A.sum(0),
    "mean1k": A.mean(1, keepdims=True),
    "max": A.max(),
    "max1": A.max(1),
    "max1_onehot": np.eye(5)[A.argmax(1)],
    "min0": A.min(0),
    "min0_index": A.argmin(0).astype(float),
    "mpctensor": A,
    "argmax1": np.eye(5)[A.argmax(1)],
    "argmax1_index": A.argmax(1).astype(float),
    "argmax_all": float(A.argmax()),
    "reshape": A.reshape(2, -1),
    "view": A.reshape(5, 4),
    "transpose": A.T,
    "flatten": IMG.reshape(2, -1),
    "unsqueeze_squeeze": A,
    "cat": np.concatenate([A, B], 1),
    "stack": np.stack([A, B]),
    "index": A[1],
    "slice": A[1:3, ::2],
    "index_tail": A[..., -1],
    "index_list": A[[0, 2]],
    "conv2d": conv2d_ref(IMG, KER, BIAS, padding=1),
    "conv2d_public": conv2d_ref(IMG, KER, np.zeros(3), stride=2),
    "max_pool2d": pool_ref(IMG, 2, np.max),
    "avg_pool2d": pool_ref(IMG, 2, np.mean),
    "adaptive_avg_pool2d": pool_ref(IMG, 2, np.mean),
    "where": np.where(A > B, A, B),
}

# Linear operations and comparisons: exact up to fixed-point rounding.
LINEAR_ATOL = 1e-3
# Products of products and the iterative functions.
NONLINEAR = {"pow3", "exp", "log", "sqrt", "reciprocal", "rdiv", "div_enc", "sigmoid", "tanh",
             "softmax", "log_softmax"}


@pytest.mark.parametrize("world_size", [2, 3])
def test_api_matches_numpy(world_size):
    got = crypten.mpc.run_multiprocess(world_size=world_size)(computations)()
    assert got["rank"] == 0
    assert got["dst_is_none_elsewhere"]
    assert got["shape"] == (4, 3)
    assert np.asarray(got["lt"]).dtype == np.int64
    for name, want in EXPECTED.items():
        have = np.asarray(got[name])
        assert have.shape == np.shape(want), name
        if name in NONLINEAR:
            np.testing.assert_allclose(have, want, rtol=1e-2, atol=1e-2, err_msg=name)
        else:
            np.testing.assert_allclose(have, want, rtol=0, atol=LINEAR_ATOL * max(1, np.abs(want).max()), err_msg=name)


def gradients():
    x = crypten.cryptensor(A, src=0, requires_grad=True)
    w = crypten.cryptensor(M, src=1, requires_grad=True)
    loss = (x @ w).sigmoid().sum()
    loss.backward()
    return x.grad.get_plain_text(), w.grad.get_plain_text(), loss.get_plain_text()


def test_backward_matches_numpy():
    gx, gw, loss = crypten.mpc.run_multiprocess(world_size=2)(gradients)()
    s = 1 / (1 + np.exp(-(A @ M)))
    ds = s * (1 - s)
    np.testing.assert_allclose(loss, s.sum(), rtol=1e-2)
    np.testing.assert_allclose(gx, ds @ M.T, atol=2e-2)
    np.testing.assert_allclose(gw, A.T @ ds, atol=2e-2)


def failing():
    if crypten.get_rank() == 1:
        raise ValueError("party one gives up")
    x = crypten.cryptensor(A, src=0)
    return (x * x).get_plain_text()


def test_a_failing_party_is_named():
    with pytest.raises(crypten.CryptenError, match="party 1 failed: ValueError: party one gives up"):
        crypten.mpc.run_multiprocess(world_size=2)(failing)()


def stats_and_io(tmp):
    import os

    rank = crypten.get_rank()
    crypten.reset_stats()
    x = crypten.cryptensor(A, src=0)
    y = x * x
    s = crypten.get_stats()
    path = os.path.join(tmp, f"share-{rank}.safetensors")
    crypten.save(y, path)
    z = crypten.load(path)
    crypten.save_from_party(B, os.path.join(tmp, "b.npy"), src=1)
    b_plain = crypten.load_from_party(os.path.join(tmp, "b.npy"), src=1)
    b_enc = crypten.load_from_party(os.path.join(tmp, "b.npy"), src=1, encrypted=True)
    return {
        "rounds": s["rounds"],
        "bytes": s["bytes_sent"],
        "mul_ops": sorted(s["per_op"]),
        "reloaded": z.get_plain_text(),
        "b_plain_rank0": b_plain,
        "b_enc": b_enc.get_plain_text(),
        "comm": crypten.get_communication_stats(),
    }


def test_stats_and_save_load(tmp_path):
    got = crypten.mpc.run_multiprocess(world_size=2)(stats_and_io)(str(tmp_path))
    # Sharing costs no round; the product one (its opening).
    assert got["rounds"] == 1, got
    assert got["bytes"] > A.size * 8
    np.testing.assert_allclose(got["reloaded"], A * A, atol=1e-3 * 9)
    # Rank 0 is not the source: zeros of the announced shape.
    np.testing.assert_array_equal(got["b_plain_rank0"], np.zeros_like(B))
    np.testing.assert_allclose(got["b_enc"], B, atol=1e-4)
    assert set(got["comm"]) == {"rounds", "bytes"}


def spinning_while_computing():
    import threading

    count = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            count[0] += 1

    thread = threading.Thread(target=spin)
    thread.start()
    big = crypten.cryptensor(np.ones(1_000_000), src=0)
    during = count[0]
    (big * big).relu()
    after = count[0]
    stop.set()
    thread.join()
    return after - during


def test_the_gil_is_released_during_protocol_steps():
    # A Python thread keeps counting while the party multiplies and compares a million
    # elements (tens of milliseconds of native work and waiting).
    assert crypten.mpc.run_multiprocess(world_size=2)(spinning_while_computing)() > 1000


def vectors():
    v = crypten.cryptensor(np.array([1.0, -2.0, 3.0]), src=0)
    m = crypten.cryptensor(np.arange(6.0).reshape(2, 3), src=1)
    w = np.array([0.5, 1.0, -1.0])
    return {
        "dot": (v @ v).get_plain_text(),
        "matvec": (m @ v).get_plain_text(),
        "vecmat": (np.array([1.0, 2.0]) @ m).get_plain_text(),
        "public_dot": (w @ v).get_plain_text(),
        "vec_public": (v @ np.eye(3)).get_plain_text(),
    }


def test_one_dimensional_products_follow_numpy():
    got = crypten.mpc.run_multiprocess(world_size=2)(vectors)()
    v, m, w = np.array([1.0, -2.0, 3.0]), np.arange(6.0).reshape(2, 3), np.array([0.5, 1.0, -1.0])
    for name, want in {"dot": v @ v, "matvec": m @ v, "vecmat": np.array([1.0, 2.0]) @ m,
                       "public_dot": w @ v, "vec_public": v @ np.eye(3)}.items():
        np.testing.assert_allclose(got[name], want, atol=1e-3, err_msg=name)
        assert np.shape(got[name]) == np.shape(want), name


def torch_values():
    import torch

    x = crypten.cryptensor(torch.tensor([1.0, -2.0, 3.0]), src=0)
    t = torch.tensor([0.5, 0.5, 0.5])
    return (t + x).get_plain_text(), (x - t).get_plain_text(), (t @ x).get_plain_text()


def test_torch_in_torch_out():
    torch = pytest.importorskip("torch")
    a, b, c = crypten.mpc.run_multiprocess(world_size=2)(torch_values)()
    assert all(isinstance(v, torch.Tensor) for v in (a, b, c))
    assert a.tolist() == [1.5, -1.5, 3.5] and b.tolist() == [0.5, -2.5, 2.5]
    assert c.item() == pytest.approx(1.0, abs=1e-3)
