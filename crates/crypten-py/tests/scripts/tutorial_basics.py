# A CrypTen tutorial-style script: it runs on CrypTen with `import crypten`; on crypten-rs
# only the import changes. Lists and numbers only (no torch), so it runs wherever numpy does.
import crypten_rs as crypten
import crypten_rs.communicator as comm
import crypten_rs.mpc as mpc

crypten.init()

# Sharing and revealing (tutorial 1).
x_enc = crypten.cryptensor([1.0, 2.0, 3.0])
y_enc = crypten.cryptensor([4.0, 5.0, 6.0])
print("add", (x_enc + y_enc).get_plain_text().tolist())
print("mul", (x_enc * y_enc).get_plain_text().tolist())
print("lt", (x_enc < 2.5).get_plain_text().tolist())


# Shares at two parties (tutorial 2) and a private logistic regression (tutorial 3 style):
# party 0 holds the features, party 1 the labels.
@mpc.run_multiprocess(world_size=2)
def train_logistic_regression():
    rank = comm.get().get_rank()
    features = [[0.1 * i, -0.05 * i + 1.0] for i in range(-20, 20)]
    labels = [[1.0] if 0.1 * i - (-0.05 * i + 1.0) > 0 else [0.0] for i in range(-20, 20)]
    x = crypten.cryptensor(features, src=0)
    y = crypten.cryptensor(labels, src=1)
    w = crypten.cryptensor([[0.0], [0.0]], src=0)
    b = crypten.cryptensor([0.0], src=0)
    for _ in range(60):
        p = (x.matmul(w) + b).sigmoid()
        err = p - y
        w = w - x.t().matmul(err) * (2.0 / len(features))
        b = b - err.sum() * (2.0 / len(features))
    accuracy = ((x.matmul(w) + b > 0) == y).sum().get_plain_text().item() / len(features)
    crypten.print("rank", rank, "accuracy", round(accuracy, 3), in_order=True)
    return accuracy


print("accuracy", train_logistic_regression())
