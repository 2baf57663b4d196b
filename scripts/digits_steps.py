"""Training steps per second of the digits LSTM (examples/digits_lstm.py's model: LSTM(8, 64),
Linear(64, 10), AdamW, batch 32) on hakl.framework and on torch CPU, in one process, so the
two share the machine's state (issue 15's comparison).

    python scripts/digits_steps.py [--steps 400]
"""
import argparse
import time

from sklearn.datasets import load_digits

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=400)
args = parser.parse_args()

digits = load_digits()
x = (digits.data / 16.0).astype("float32").reshape(-1, 8, 8)
y = digits.target.astype("int64")
batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, len(y) - 32, 32)]


def hakl_steps() -> float:
    import hakl.framework as paddle

    paddle.seed(0)

    class Net(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.lstm = paddle.nn.LSTM(input_size=8, hidden_size=64)
            self.head = paddle.nn.Linear(64, 10)

        def forward(self, images):
            _, (h, c) = self.lstm(images)
            return self.head(h[0])

    model = Net()
    opt = paddle.optimizer.AdamW(learning_rate=1e-2, parameters=model.parameters(), weight_decay=1e-4)
    data = [(paddle.to_tensor(a), paddle.to_tensor(b)) for a, b in batches]
    return _rate(model, opt, paddle.nn.CrossEntropyLoss(), data, opt.clear_grad)


def torch_steps() -> float:
    import torch

    torch.manual_seed(0)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(8, 64, batch_first=True)
            self.head = torch.nn.Linear(64, 10)

        def forward(self, images):
            _, (h, c) = self.lstm(images)
            return self.head(h[0])

    model = Net()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=1e-4)
    data = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in batches]
    return _rate(model, opt, torch.nn.CrossEntropyLoss(), data, opt.zero_grad)


def _rate(model, opt, loss_fn, data, clear) -> float:
    """The best of 3 runs' steps/s of one training step (forward, backward, AdamW, clear)."""
    def step(i):
        xb, yb = data[i % len(data)]
        loss_fn(model(xb), yb).backward()
        opt.step()
        clear()

    for i in range(30):  # warm-up: compiles, tunes, allocates
        step(i)
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for i in range(args.steps):
            step(i)
        best = max(best, args.steps / (time.perf_counter() - start))
    return best


if __name__ == "__main__":
    import torch

    torch.set_num_threads(2)
    h, t = hakl_steps(), torch_steps()
    print(f"digits LSTM training, steps/s (best of 3 x {args.steps}): hakl {h:.0f}, torch {t:.0f} ({h / t:.2f}x)")
