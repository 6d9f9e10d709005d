"""The four use cases on the digits data, in Python (as `crypten example NAME` runs them in
Rust), each at 3 parties with a trusted third party:

    python examples/python/use_cases.py feature-aggregation   # columns split among parties
    python examples/python/use_cases.py data-labelling        # a model labels another's data
    python examples/python/use_cases.py dataset-augmentation  # rows split among parties
    python examples/python/use_cases.py model-hiding          # inference on a hidden model
"""
import pathlib
import sys

import numpy as np

import crypten_rs as crypten

DIGITS = pathlib.Path(__file__).resolve().parents[2] / "data" / "digits"
PARTIES = 3


def load(name):
    raw = np.loadtxt(DIGITS / name, delimiter=",", skiprows=1)
    return raw[:, :-1], raw[:, -1].astype(int)


def share(value, owner):
    """`value` (read at `owner` only) encrypted from `owner`."""
    rank = crypten.get_rank()
    return crypten.cryptensor(value if rank == owner else None, src=owner,
                              shape=np.shape(value))


def fit(model, x, onehot, epochs=2, batch=32):
    """Trains on encrypted `x` and `onehot` (whole tensors, batched by public slices)."""
    model.train()
    opt = crypten.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = crypten.nn.CrossEntropyLoss()
    for epoch in range(epochs):
        total, steps = 0.0, 0
        for i in range(0, len(x), batch):
            opt.zero_grad()
            loss = loss_fn(model(x[i:i + batch]), onehot[i:i + batch])
            loss.backward()
            opt.step()
            total, steps = total + float(loss.get_plain_text()), steps + 1
        crypten.print(f"epoch {epoch}: mean loss {total / steps:.4f}")
    model.eval()
    return model


def accuracy(model, tx, ty, owner=0):
    logits = model(share(tx, owner))
    return float((logits.argmax(dim=1, one_hot=False).get_plain_text() == ty).mean())


def feature_aggregation():
    """Each party holds a block of the 64 pixel columns; the last also holds the labels."""
    x, y = load("digits_train.csv")
    tx, ty = load("digits_test.csv")
    cuts = np.array_split(np.arange(64), PARTIES)
    columns = crypten.cat([share(x[:, c], owner) for owner, c in enumerate(cuts)], dim=1)
    labels = share(np.eye(10)[y], PARTIES - 1)
    model = fit(crypten.nn.from_onnx(DIGITS / "mlp.onnx").encrypt(src=0), columns, labels)
    return accuracy(model, tx, ty)


def dataset_augmentation():
    """Each party holds a block of rows, with their labels."""
    x, y = load("digits_train.csv")
    tx, ty = load("digits_test.csv")
    cuts = np.array_split(np.arange(len(x)), PARTIES)
    rows = crypten.cat([share(x[c], owner) for owner, c in enumerate(cuts)], dim=0)
    labels = crypten.cat([share(np.eye(10)[y[c]], owner) for owner, c in enumerate(cuts)], dim=0)
    model = fit(crypten.nn.from_onnx(DIGITS / "mlp.onnx").encrypt(src=0), rows, labels)
    return accuracy(model, tx, ty)


def data_labelling():
    """Party 0 trains a model on its labelled data (in plaintext, at home); party 1 has
    unlabelled images and learns only their labels; party 0 learns nothing about them."""
    return data_labelling_for(1)


def model_hiding():
    """Party 0's trained model answers party 2's queries; each learns nothing of the other's."""
    return data_labelling_for(2)


def data_labelling_for(client):
    """Party 0's model, trained at home, labels `client`'s images; only `client` learns them."""
    x, y = load("digits_train.csv")
    tx, ty = load("digits_test.csv")
    model = crypten.nn.from_onnx(DIGITS / "mlp.onnx")
    if crypten.get_rank() == 0:
        model = fit(model, crypten.public(x), np.eye(10)[y])  # in plaintext, at home
    model.encrypt(src=0)
    model.eval()
    answers = model(share(tx, client)).argmax(dim=1, one_hot=False).get_plain_text(dst=client)
    return None if answers is None else float((answers == ty).mean())


CASES = {
    "feature-aggregation": feature_aggregation,
    "dataset-augmentation": dataset_augmentation,
    "data-labelling": data_labelling,
    "model-hiding": model_hiding,
}


def run(name):
    result = CASES[name]()
    # The party that learned the result reports it.
    if result is not None:
        print(f"party {crypten.get_rank()}: test accuracy {result:.3f}")
    return result


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        sys.exit(__doc__)
    crypten.mpc.run_multiprocess(world_size=PARTIES)(run)(sys.argv[1])
