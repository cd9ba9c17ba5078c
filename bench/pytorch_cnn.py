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
p.add_argument("--device", default="cpu", help="cpu or cuda")
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
dev = torch.device(a.device)
model = model.to(dev, memory_format=fmt)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
B = a.batch_size
xs = [torch.randn(B, 3, 32, 32, device=dev).contiguous(memory_format=fmt) for _ in range(8)]
ys = [torch.randint(0, 10, (B,), device=dev) for _ in range(8)]


def sync():
    # GPU work is asynchronous: time only what has finished.
    if dev.type == "cuda":
        torch.cuda.synchronize()


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
    sync()
    t = time.perf_counter()
    for i in range(a.iters):
        train_step(i)
    sync()
    train.append(a.iters * B / (time.perf_counter() - t))

model.eval()
evals = []
with torch.no_grad():
    for i in range(a.warmup):
        model(xs[i % 8]).argmax(1)
    for _ in range(a.repeats):
        sync()
        t = time.perf_counter()
        for i in range(a.iters):
            model(xs[i % 8]).argmax(1)
        sync()
        evals.append(a.iters * B / (time.perf_counter() - t))

print(json.dumps({
    "framework": f"PyTorch {torch.__version__}" + (" channels_last" if a.channels_last else "")
    + (f" on {torch.cuda.get_device_name(dev)}" if dev.type == "cuda" else ""),
    "device": a.device,
    "threads": torch.get_num_threads(),
    "train_images_per_s": statistics.median(train),
    "eval_images_per_s": statistics.median(evals),
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
