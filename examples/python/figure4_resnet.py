"""The paper's Figure 4: a ResNet imported from ONNX, its weights encrypted at party 0, an
image encrypted at party 1, and the prediction revealed to party 1 only.

    python examples/python/figure4_resnet.py [model.onnx]

Without an argument it uses the narrow ResNet-18 of the ONNX importer's tests (a batch of
two 64x64 images).
A PyTorch model works the same through `crypten_rs.nn.from_pytorch(model, dummy_input)`.
"""
import pathlib
import sys
import time

import numpy as np

import crypten_rs as crypten

DEFAULT = (pathlib.Path(__file__).resolve().parents[2]
           / "crates" / "crypten-onnx" / "tests" / "fixtures" / "resnet18_w16.onnx")


@crypten.mpc.run_multiprocess(world_size=2)
def infer(path):
    rank = crypten.get_rank()
    model = crypten.nn.from_onnx(path).encrypt(src=0)
    model.eval()
    shape = tuple(1 if d is None else d for d in model.input_shape)
    image = np.random.default_rng(0).uniform(-1, 1, size=shape)
    x = crypten.cryptensor(image if rank == 1 else None, src=1, shape=shape)
    start = time.perf_counter()
    logits = model(x)
    labels = logits.argmax(dim=1, one_hot=False).get_plain_text(dst=1)
    seconds = time.perf_counter() - start
    if rank == 1:
        print(f"party 1 learns the labels {labels.astype(int).tolist()}; {seconds:.2f} s, "
              f"{crypten.get_stats()['rounds']} rounds")
    return seconds


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else str(DEFAULT)
    infer(path)
