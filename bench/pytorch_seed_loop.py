"""The seed post's training as a PyTorch user writes it: the same model (channels_last,
the fastest layout on these CPUs), Adam at 0.001, batches of 100 shuffled each epoch, the
whole test set evaluated after every epoch without gradients. Prints one JSON object:
seconds from process start to the end, per epoch (evaluation included), and the final
test accuracy."""
import time

START = time.perf_counter()
import argparse  # noqa: E402
import json  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

import seed_data  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--data", required=True)
p.add_argument("--epochs", type=int, default=4)
p.add_argument("--train-limit", type=int, default=25_000)
p.add_argument("--test-limit", type=int, default=10_000)
p.add_argument("--threads", type=int, default=None)
p.add_argument("--contiguous", action="store_true", help="PyTorch's default layout instead")
a = p.parse_args()
if a.threads:
    torch.set_num_threads(a.threads)
torch.manual_seed(0)
fmt = torch.contiguous_format if a.contiguous else torch.channels_last
x, y, xt, yt = (torch.from_numpy(v) for v in seed_data.load(
    a.data, a.train_limit, a.test_limit, layout="NCHW"))
x, xt = x.contiguous(memory_format=fmt), xt.contiguous(memory_format=fmt)

model = nn.Sequential(
    nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(),
    nn.Linear(1024, 64), nn.ReLU(), nn.Linear(64, 10),
).to(memory_format=fmt)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
epochs, accuracy = [], 0.0
for epoch in range(a.epochs):
    t = time.perf_counter()
    model.train()
    for idx in torch.randperm(len(x)).split(100):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[idx].contiguous(memory_format=fmt)), y[idx])
        loss.backward()
        opt.step()
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(xt), 100):
            correct += (model(xt[i:i + 100]).argmax(1) == yt[i:i + 100]).sum().item()
    accuracy = correct / len(xt)
    epochs.append(time.perf_counter() - t)
print(json.dumps({
    "framework": f"PyTorch {torch.__version__}, "
                 + ("default layout" if a.contiguous else "channels_last") + ", own loop",
    "total_s": time.perf_counter() - START,
    "epoch_s": epochs,
    "test_accuracy": accuracy,
}))
