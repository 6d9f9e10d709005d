"""CrypTen tutorial-style scripts run unchanged except for `import crypten_rs as crypten`."""

import importlib.util
import pathlib
import subprocess
import sys

import pytest

SCRIPTS = pathlib.Path(__file__).parent / "scripts"


def run(name):
    done = subprocess.run([sys.executable, str(SCRIPTS / name)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return dict(
        (line.split(" ", 1)[0], line.split(" ", 1)[1]) for line in done.stdout.splitlines() if " " in line
    ), done.stdout


def test_tutorial_basics():
    out, text = run("tutorial_basics.py")
    assert out["add"] == "[5.0, 7.0, 9.0]", text
    assert out["mul"] == "[4.0, 10.0, 18.0]", text
    # Comparisons reveal as integers, as CrypTen's do.
    assert out["lt"] == "[1, 1, 0]", text
    assert float(out["accuracy"]) >= 0.95, text
    # crypten.print(in_order=True): rank 0's line comes before rank 1's.
    assert text.index("rank 0 accuracy") < text.index("rank 1 accuracy"), text


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_tutorial_torch():
    out, text = run("tutorial_torch.py")
    assert out["revealed"] == "is torch True", text
    assert out["square"] == "[1.0, 4.0, 9.0]", text
    first, last = (float(v) for v in out["loss"].split(" -> "))
    assert last < 0.5 * first, text
    assert float(out["accuracy"]) >= 0.9, text
