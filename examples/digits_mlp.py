"""PaddlePaddle 2.0 dygraph code, unchanged but for its first import: an MLP on
scikit-learn's 8x8 digits, trained with AdamW, saved and loaded back.

    python examples/digits_mlp.py [--device cpu|opencl|gpu] [--epochs 10]
"""
import argparse

import numpy as np
from sklearn.datasets import load_digits

import hakl.framework as paddle  # was: import paddle

parser = argparse.ArgumentParser()
parser.add_argument("--device", default="cpu")
parser.add_argument("--epochs", type=int, default=10)
args = parser.parse_args()

paddle.set_device(args.device)
paddle.seed(0)

digits = load_digits()
x = (digits.data / 16.0).astype("float32")
y = digits.target.astype("int64")
order = np.random.default_rng(0).permutation(len(y))
test, train = order[:360], order[360:]

loader = paddle.io.DataLoader(paddle.io.TensorDataset([x[train], y[train]]), batch_size=64, shuffle=True)
model = paddle.nn.Sequential(paddle.nn.Linear(64, 128), paddle.nn.ReLU(), paddle.nn.Dropout(0.1),
                             paddle.nn.Linear(128, 10))
scheduler = paddle.optimizer.lr.CosineAnnealingDecay(learning_rate=3e-3, T_max=args.epochs)
opt = paddle.optimizer.AdamW(learning_rate=scheduler, parameters=model.parameters(), weight_decay=1e-4,
                             grad_clip=paddle.nn.ClipGradByNorm(5.0))
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
    scheduler.step()
    print(f"epoch {epoch + 1}: loss {np.mean(losses):.4f}, test accuracy {evaluate():.4f}")

paddle.save(model.state_dict(), "digits_mlp.pdparams")
model.set_state_dict(paddle.load("digits_mlp.pdparams"))
print(f"test accuracy: {evaluate():.4f}")
