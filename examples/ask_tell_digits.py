"""Train the architectures a nasweb search proposes in your own PyTorch loop, and report back.

    python examples/ask_tell_digits.py --url http://127.0.0.1:8000 --token nas_... --search 7

The search must be on a digits project with the "external" evaluator (the form's "Who trains the
trials", or "evaluator": "external" in the API's spec). Each trial's epochs show live on the search
page; a pruner that stops a trial makes `report` answer False, and the loop moves on.

Nothing here imports Django: the client (searches/client.py) speaks HTTP, and the architecture is
built by the project's engine (searches/spaces/), plain torch.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, no install needed

from searches.client import Client  # noqa: E402


def digits_splits(seed: int = 0):
    """Digits as (1, 8, 8) images in [0, 1]: 70% train, 30% validation."""
    digits = load_digits()
    x = torch.tensor(digits.data.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    y = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    cut = int(0.7 * len(y))
    return (x[order[:cut]], y[order[:cut]]), (x[order[cut:]], y[order[cut:]])


def accuracy(model: nn.Module, x, y) -> float:
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def train_trial(client: Client, trial, train, valid, max_epochs: int | None) -> None:
    torch.manual_seed(trial.number)
    model = trial.build_module()
    settings = trial.training
    epochs = min(settings.get("epochs", 3), max_epochs or 10**6)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.get("lr", 3e-3))
    batch = settings.get("batch_size", 64)
    loss_fn = nn.CrossEntropyLoss()
    started, val_accuracy = time.monotonic(), 0.0
    with client.heartbeat(trial.id):
        for epoch in range(1, epochs + 1):
            model.train()
            total = 0.0
            for i in torch.randperm(len(train[1])).split(batch):
                optimizer.zero_grad()
                loss = loss_fn(model(train[0][i]), train[1][i])
                loss.backward()
                optimizer.step()
                total += loss.item() * len(i)
            val_accuracy = accuracy(model, *valid)
            keep_going = client.report(trial.id, epoch, {"val_accuracy": val_accuracy,
                                                         "train_loss": total / len(train[1])})
            print(f"trial {trial.number} epoch {epoch}: val_accuracy {val_accuracy:.3f}", flush=True)
            if not keep_going:
                print(f"trial {trial.number}: stopped by the server (pruned or cancelled)", flush=True)
                return
    client.tell(trial.id, {"val_accuracy": val_accuracy, "train_seconds": time.monotonic() - started,
                           "params": sum(p.numel() for p in model.parameters())})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("NASWEB_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--token", default=os.environ.get("NASWEB_TOKEN"), help="or NASWEB_TOKEN")
    parser.add_argument("--search", type=int, required=True)
    parser.add_argument("--worker", default="ask_tell_digits")
    parser.add_argument("--max-epochs", type=int, help="train at most this many epochs per trial")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("give --token or set NASWEB_TOKEN (make one at /settings/tokens/)")
    torch.set_num_threads(int(os.environ.get("NASWEB_TORCH_THREADS") or 1))
    client = Client(args.url, args.token)
    train, valid = digits_splits()
    count = 0
    for trial in client.trials_to_train(args.search, worker=args.worker):
        if trial.dataset.get("builtin_key") != "digits":
            client.fail(trial.id, "this example trains on digits only")
            return 2
        try:
            train_trial(client, trial, train, valid, args.max_epochs)
        except Exception as exc:
            client.fail(trial.id, f"{type(exc).__name__}: {exc}")
            raise
        count += 1
    search = client.search(args.search)
    best = search["best_trial"]
    summary = "none" if best is None else f"trial {best['number']} {best['metric']} {best['value']:.3f}"
    print(f"search {args.search} is {search['state']} after {count} trials here; best: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
