"""Minibatches for the data-dependent zero-cost proxies when no dataset is at hand.

The proxies' authors score NAS-Bench-201 cells on one CIFAR-10 minibatch (64 images, real labels).
CIFAR-10 is not shipped here, so the default batch is the closest thing that is: 32x32 crops of the
two photographs scikit-learn bundles (sklearn.datasets.load_sample_images: china.jpg, a temple
among trees, and flower.jpg; 427x640 RGB each). Each crop is a random square of 64 to 213 pixels
at a random place in one of the two photos, resized to 32x32 with antialiasing, scaled to [0, 1]
and normalised with the CIFAR-10 channel means and deviations, as the papers' loaders do.

Labels, `labels=`:
  random   uniform over num_classes, independent of the image (what a random batch has);
  content  a function of the image: the photo, and which fifth of its width the crop's centre
           lies in (2 photos x 5 strips = 10 classes), so that, as with real labels, similar
           crops tend to share a label.
Other inputs, for the ablation in bench/zero_cost_nb201.py: `noise` (standard normal pixels,
random labels) and `digits` (scikit-learn's 8x8 handwritten digits upsampled to 32x32 RGB, with
their true labels: real labels on real, if not natural, images).
"""

from __future__ import annotations

from functools import cache

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
INPUTS = ("images", "noise", "digits")
LABELS = ("random", "content")
BANDS = 5  # vertical strips per photo: 2 photos x 5 strips = 10 content classes
MIN_CROP, MAX_CROP = 64, 213


class ProxyBatchError(ValueError):
    """The batch cannot be made as asked; the message says why."""


@cache
def sample_photos():
    """The two bundled photos as float tensors (3, H, W) in [0, 1]; decoded once per process."""
    import torch
    from sklearn.datasets import load_sample_images

    images = load_sample_images().images
    return tuple(torch.from_numpy(image.copy()).permute(2, 0, 1).float() / 255.0 for image in images)


def proxy_batch(batch: int = 64, seed: int = 0, inputs: str = "images", labels: str = "content",
                size: int = 32, num_classes: int = 10):
    """(x, y): x of shape (batch, 3, size, size), y of shape (batch,) with values below num_classes."""
    import torch

    if inputs not in INPUTS:
        raise ProxyBatchError(f"unknown input {inputs!r}; choose one of {list(INPUTS)}")
    if labels not in LABELS:
        raise ProxyBatchError(f"unknown labels {labels!r}; choose one of {list(LABELS)}")
    if batch < 2:
        raise ProxyBatchError(f"a proxy batch needs at least 2 samples, got {batch}")
    if labels == "content" and inputs == "noise":
        raise ProxyBatchError("noise has no content to label; use labels='random'")
    generator = torch.Generator().manual_seed(seed)
    if inputs == "noise":
        x, content = torch.randn((batch, 3, size, size), generator=generator), None
    elif inputs == "images":
        x, content = photo_crops(batch, size, generator)
    else:
        x, content = digit_images(batch, size, generator)
    if labels == "random":
        y = torch.randint(0, num_classes, (batch,), generator=generator)
    else:
        y = content % num_classes
    return x, y


def photo_crops(batch: int, size: int, generator):
    import torch
    import torch.nn.functional as F

    photos = sample_photos()
    crops, content = [], []
    for _ in range(batch):
        which = int(torch.randint(0, len(photos), (1,), generator=generator))
        photo = photos[which]
        _, height, width = photo.shape
        side = int(torch.randint(MIN_CROP, min(MAX_CROP, height, width) + 1, (1,), generator=generator))
        top = int(torch.randint(0, height - side + 1, (1,), generator=generator))
        left = int(torch.randint(0, width - side + 1, (1,), generator=generator))
        crop = photo[:, top:top + side, left:left + side].unsqueeze(0)
        crops.append(F.interpolate(crop, size=(size, size), mode="bilinear", antialias=True, align_corners=False))
        content.append(which * BANDS + min(BANDS - 1, (left + side // 2) * BANDS // width))
    return normalised(torch.cat(crops)), torch.tensor(content)


def digit_images(batch: int, size: int, generator):
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits

    digits = load_digits()
    index = torch.randperm(len(digits.images), generator=generator)[:batch]
    small = torch.from_numpy(digits.images[index.numpy()]).float().unsqueeze(1) / 16.0
    large = F.interpolate(small, size=(size, size), mode="bilinear", align_corners=False).repeat(1, 3, 1, 1)
    return normalised(large), torch.from_numpy(digits.target[index.numpy()]).long()


def normalised(x):
    import torch

    mean = torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR_STD).view(1, 3, 1, 1)
    return (x - mean) / std
