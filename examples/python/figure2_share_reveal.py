"""The paper's Figure 2: encrypt tensors, compute on them, reveal the result.

    python examples/python/figure2_share_reveal.py
"""
import numpy as np

import crypten_rs as crypten


@crypten.mpc.run_multiprocess(world_size=2)
def main():
    x = crypten.cryptensor(np.array([1.0, 2.0, 3.0]), src=0)   # party 0's values
    y = crypten.cryptensor(np.array([4.0, 5.0, 6.0]), src=1)   # party 1's values
    z = x + y                                # encrypted result, no communication
    w = (x * y).sum()                        # one round for the product
    crypten.print("x + y =", z.get_plain_text(), " <x, y> =", w.get_plain_text())
    crypten.print("rounds and bytes of party", crypten.get_rank(), crypten.get_stats()["rounds"],
                  crypten.get_stats()["bytes_sent"], in_order=True)


if __name__ == "__main__":
    main()
