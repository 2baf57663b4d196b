"""PaddlePaddle 2.0 dygraph code, unchanged but for its first import: an LSTM reading each
8x8 digit as 8 steps of 8 features (its rows), the last hidden state classified by a
Linear layer, trained with AdamW.

    python examples/digits_lstm.py [--device cpu|opencl|gpu] [--epochs 15]
"""
import argparse

import numpy as np
from sklearn.datasets import load_digits

import hakl.framework as paddle  # was: import paddle

parser = argparse.ArgumentParser()
parser.add_argument("--device", default="cpu")
parser.add_argument("--epochs", type=int, default=15)
args = parser.parse_args()

paddle.set_device(args.device)
paddle.seed(0)

digits = load_digits()
x = (digits.data / 16.0).astype("float32").reshape(-1, 8, 8)  # [N, steps, features]
y = digits.target.astype("int64")
order = np.random.default_rng(0).permutation(len(y))
test, train = order[:360], order[360:]


class Net(paddle.nn.Layer):
    def __init__(self, hidden=64):
        super().__init__()
        self.lstm = paddle.nn.LSTM(input_size=8, hidden_size=hidden)
        self.head = paddle.nn.Linear(hidden, 10)

    def forward(self, images):
        _, (h, c) = self.lstm(images)  # h: [num_layers * directions, batch, hidden]
        return self.head(h[0])


loader = paddle.io.DataLoader(paddle.io.TensorDataset([x[train], y[train]]), batch_size=32, shuffle=True)
model = Net()
opt = paddle.optimizer.AdamW(learning_rate=1e-2, parameters=model.parameters(), weight_decay=1e-4)
loss_fn = paddle.nn.CrossEntropyLoss()


def evaluate():
    model.eval()
    with paddle.no_grad():
        pred = paddle.argmax(model(paddle.to_tensor(x[test])), axis=1)
        acc = paddle.mean(paddle.cast(pred == paddle.to_tensor(y[test]), "float32")).numpy()[0]
    model.train()
    return acc


for epoch in range(args.epochs):
    losses = []
    for xb, yb in loader:
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        opt.clear_grad()
        losses.append(loss.numpy()[0])
    print(f"epoch {epoch + 1}: loss {np.mean(losses):.4f}, test accuracy {evaluate():.4f}")

print(f"test accuracy: {evaluate():.4f}")
