# A CrypTen tutorial-style script with torch: a model trained in PyTorch's idiom on encrypted
# data. It runs on CrypTen with `import crypten`; on crypten-rs only the import changes.
import crypten_rs as crypten
import crypten_rs.mpc as mpc
import torch

crypten.init()
torch.manual_seed(0)

x = torch.tensor([1.0, 2.0, 3.0])
x_enc = crypten.cryptensor(x)
print("revealed is torch", isinstance(x_enc.get_plain_text(), torch.Tensor))
print("square", (x_enc * x_enc).get_plain_text().tolist())


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 8)
        self.fc2 = torch.nn.Linear(8, 2)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


@mpc.run_multiprocess(world_size=2)
def train():
    torch.manual_seed(1)
    data = torch.randn(64, 4)
    labels = (data[:, 0] + data[:, 1] > 0).long()
    onehot = torch.nn.functional.one_hot(labels, 2).float()
    plain = Net()
    model = crypten.nn.from_pytorch(plain, torch.empty(1, 4))
    model.encrypt(src=0)
    model.train()
    x_enc = crypten.cryptensor(data, src=1)
    y_enc = crypten.cryptensor(onehot, src=1)
    loss_fn = crypten.nn.CrossEntropyLoss()
    losses = []
    for _ in range(30):
        output = model(x_enc)
        loss = loss_fn(output, y_enc)
        model.zero_grad()
        loss.backward()
        model.update_parameters(0.5)
        losses.append(loss.get_plain_text().item())
    model.eval()
    predicted = model(x_enc).argmax(dim=1).get_plain_text()
    accuracy = (predicted.argmax(dim=1) == labels).float().mean().item()
    return losses[0], losses[-1], accuracy


first, last, accuracy = train()
print("loss", round(first, 3), "->", round(last, 3))
print("accuracy", accuracy)
