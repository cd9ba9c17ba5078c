"""The reference CNN in PyTorch, measured like `cyclr bench`: batch 100, random data,
warm-up, median of repeats; training is forward + backward + Adam step with the loss read
back every step (as cyclr does), evaluation is a forward pass without gradients.
Prints one JSON object."""
import argparse
import json
import resource
import statistics
import time

import torch
import torch.nn as nn

p = argparse.ArgumentParser()
p.add_argument("--batch-size", type=int, default=100)
p.add_argument("--warmup", type=int, default=10)
p.add_argument("--iters", type=int, default=30)
p.add_argument("--repeats", type=int, default=5)
p.add_argument("--threads", type=int, default=None)
p.add_argument("--channels-last", action="store_true")
a = p.parse_args()
if a.threads:
    torch.set_num_threads(a.threads)
torch.manual_seed(0)

model = nn.Sequential(
    nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(),
    nn.Linear(1024, 64), nn.ReLU(), nn.Linear(64, 10),
)
fmt = torch.channels_last if a.channels_last else torch.contiguous_format
model = model.to(memory_format=fmt)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
B = a.batch_size
xs = [torch.randn(B, 3, 32, 32).contiguous(memory_format=fmt) for _ in range(8)]
ys = [torch.randint(0, 10, (B,)) for _ in range(8)]


def train_step(i):
    opt.zero_grad(set_to_none=True)
    out = model(xs[i % 8])
    loss = loss_fn(out, ys[i % 8])
    loss.backward()
    opt.step()
    return loss.item()


for i in range(a.warmup):
    train_step(i)
train = []
for _ in range(a.repeats):
    t = time.perf_counter()
    for i in range(a.iters):
        train_step(i)
    train.append(a.iters * B / (time.perf_counter() - t))

model.eval()
evals = []
with torch.no_grad():
    for i in range(a.warmup):
        model(xs[i % 8]).argmax(1)
    for _ in range(a.repeats):
        t = time.perf_counter()
        for i in range(a.iters):
            model(xs[i % 8]).argmax(1)
        evals.append(a.iters * B / (time.perf_counter() - t))

print(json.dumps({
    "framework": f"PyTorch {torch.__version__}" + (" channels_last" if a.channels_last else ""),
    "threads": torch.get_num_threads(),
    "train_images_per_s": statistics.median(train),
    "eval_images_per_s": statistics.median(evals),
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
