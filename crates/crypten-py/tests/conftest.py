import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
DIGITS = REPO / "data" / "digits"


@pytest.fixture(scope="session")
def digits():
    """The digits data set: (train x, train labels, test x, test labels)."""
    import numpy as np

    def read(name):
        raw = np.loadtxt(DIGITS / name, delimiter=",", skiprows=1)
        return raw[:, :-1], raw[:, -1].astype(np.int64)

    head = (DIGITS / "digits_train.csv").read_text().splitlines()[0].split(",")
    assert head[-1] == "label", head[-1]
    x, y = read("digits_train.csv")
    tx, ty = read("digits_test.csv")
    return x, y, tx, ty
