"""Training steps per second on scikit-learn's digits, hakl.framework beside torch CPU in one
process, so the two share the machine's state (issue 15's comparison). Models:

- lstm: examples/digits_lstm.py's model (LSTM(8, 64), Linear(64, 10)), batch 32;
- mlp:  examples/digits_mlp.py's (Linear(64, 128), ReLU, Dropout(0.1), Linear(128, 10)),
  batch 64; --clip adds its ClipGradByNorm(5.0) (torch: clip_grad_norm_ per parameter,
  which is what Paddle's ClipGradByNorm computes).

Every step is forward, cross-entropy, backward, AdamW and clearing the gradients; blocks of
steps of the two alternate, and each reports its median block.

    python scripts/digits_steps.py [--model lstm|mlp] [--clip] [--steps 400]
"""
import argparse
import time

from sklearn.datasets import load_digits

parser = argparse.ArgumentParser()
parser.add_argument("--model", choices=("lstm", "mlp"), default="lstm")
parser.add_argument("--clip", action="store_true")
parser.add_argument("--steps", type=int, default=400)
args = parser.parse_args()

digits = load_digits()
batch = 32 if args.model == "lstm" else 64
x = (digits.data / 16.0).astype("float32")
if args.model == "lstm":
    x = x.reshape(-1, 8, 8)
y = digits.target.astype("int64")
batches = [(x[i:i + batch], y[i:i + batch]) for i in range(0, len(y) - batch, batch)]


def hakl_step():
    import hakl.framework as paddle

    paddle.seed(0)

    class Recurrent(paddle.nn.Layer):
        def __init__(self):
            super().__init__()
            self.lstm = paddle.nn.LSTM(input_size=8, hidden_size=64)
            self.head = paddle.nn.Linear(64, 10)

        def forward(self, images):
            _, (h, c) = self.lstm(images)
            return self.head(h[0])

    if args.model == "lstm":
        model = Recurrent()
    else:
        model = paddle.nn.Sequential(paddle.nn.Linear(64, 128), paddle.nn.ReLU(), paddle.nn.Dropout(0.1),
                                     paddle.nn.Linear(128, 10))
    clip = paddle.nn.ClipGradByNorm(5.0) if args.clip else None
    opt = paddle.optimizer.AdamW(learning_rate=1e-2, parameters=model.parameters(), weight_decay=1e-4,
                                 grad_clip=clip)
    data = [(paddle.to_tensor(a), paddle.to_tensor(b)) for a, b in batches]
    return _step(model, opt, paddle.nn.CrossEntropyLoss(), data, opt.clear_grad, lambda: None)


def torch_step():
    import torch

    torch.manual_seed(0)

    class Recurrent(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(8, 64, batch_first=True)
            self.head = torch.nn.Linear(64, 10)

        def forward(self, images):
            _, (h, c) = self.lstm(images)
            return self.head(h[0])

    if args.model == "lstm":
        model = Recurrent()
    else:
        model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Dropout(0.1),
                                    torch.nn.Linear(128, 10))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=1e-4)

    def clip():
        if args.clip:
            for p in model.parameters():
                torch.nn.utils.clip_grad_norm_(p, 5.0)

    data = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in batches]
    return _step(model, opt, torch.nn.CrossEntropyLoss(), data, opt.zero_grad, clip)


def _step(model, opt, loss_fn, data, clear, clip):
    """One training step (forward, backward, clip, AdamW, clear) of batch i, warmed up."""
    def step(i):
        xb, yb = data[i % len(data)]
        loss_fn(model(xb), yb).backward()
        clip()
        opt.step()
        clear()

    for i in range(30):  # warm-up: compiles, tunes, allocates
        step(i)
    return step


def _rates(steps: dict, rounds: int = 10) -> dict:
    """Each framework's median steps/s over `rounds` blocks of args.steps / 4 steps, the blocks
    of the two interleaved: this VM's speed drifts by tens of percent from minute to minute."""
    block = max(1, args.steps // 4)
    rates = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            for i in range(block):
                step(i)
            rates[name].append(block / (time.perf_counter() - start))
    return {name: sorted(r)[len(r) // 2] for name, r in rates.items()}


if __name__ == "__main__":
    import torch

    torch.set_num_threads(2)
    rates = _rates({"hakl": hakl_step(), "torch": torch_step()})
    h, t = rates["hakl"], rates["torch"]
    print(f"digits {args.model}{' with ClipGradByNorm' if args.clip else ''} training, steps/s (median of 10 "
          f"interleaved blocks of {max(1, args.steps // 4)}): hakl {h:.0f}, torch {t:.0f} ({h / t:.2f}x)")
