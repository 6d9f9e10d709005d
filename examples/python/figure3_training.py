"""The paper's Figure 3: an encrypted training loop, in PyTorch's idiom, on the digits data
(features at party 0, labels at party 1, the model, imported from ONNX, at party 0).

    python examples/python/figure3_training.py
"""
import pathlib

import numpy as np

import crypten_rs as crypten

DIGITS = pathlib.Path(__file__).resolve().parents[2] / "data" / "digits"


def load(name):
    raw = np.loadtxt(DIGITS / name, delimiter=",", skiprows=1)
    return raw[:, :-1], raw[:, -1].astype(int)


@crypten.mpc.run_multiprocess(world_size=2)
def train(epochs=2, batch=32, lr=0.05):
    rank = crypten.get_rank()
    x, y = load("digits_train.csv")
    tx, ty = load("digits_test.csv")
    model = crypten.nn.from_onnx(DIGITS / "mlp.onnx").encrypt(src=0)
    model.train()
    loss_fn = crypten.nn.CrossEntropyLoss()
    optimizer = crypten.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    onehot = np.eye(10)[y]
    for epoch in range(epochs):
        total = 0.0
        for i in range(0, len(x), batch):
            xb = crypten.cryptensor(x[i:i + batch] if rank == 0 else None, src=0,
                                    shape=x[i:i + batch].shape)
            yb = crypten.cryptensor(onehot[i:i + batch] if rank == 1 else None, src=1,
                                    shape=onehot[i:i + batch].shape)
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += float(loss.get_plain_text())
        crypten.print(f"epoch {epoch}: mean loss {total / -(-len(x) // batch):.4f}")
    model.eval()
    logits = model(crypten.cryptensor(tx if rank == 0 else None, src=0, shape=tx.shape))
    accuracy = float((logits.argmax(dim=1, one_hot=False).get_plain_text() == ty).mean())
    crypten.print(f"test accuracy {accuracy:.3f}")
    return accuracy


if __name__ == "__main__":
    train()
