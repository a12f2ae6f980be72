import pytest
import torch

from searches.estimators.proxy_batch import BANDS, ProxyBatchError, proxy_batch, sample_photos


def test_photo_crops_are_cifar_shaped_normalised_and_repeatable():
    x, y = proxy_batch(16, seed=3)
    assert x.shape == (16, 3, 32, 32) and y.shape == (16,) and y.dtype == torch.long
    assert torch.equal(x, proxy_batch(16, seed=3)[0]) and not torch.equal(x, proxy_batch(16, seed=4)[0])
    assert -1.0 < float(x.mean()) < 1.0 and 0.5 < float(x.std()) < 2.0  # CIFAR-normalised photo pixels
    assert len({tuple(crop.flatten()[:20].tolist()) for crop in x}) == 16  # different crops


def test_content_labels_follow_the_photo_and_strip_random_labels_do_not():
    assert len(sample_photos()) == 2
    _, content = proxy_batch(64, seed=0)
    assert 0 <= int(content.min()) and int(content.max()) < 2 * BANDS
    _, again = proxy_batch(64, seed=0, labels="content")
    _, random_labels = proxy_batch(64, seed=0, labels="random")
    assert torch.equal(content, again) and not torch.equal(content, random_labels)


def test_other_inputs_and_bad_requests():
    noise, _ = proxy_batch(8, inputs="noise", labels="random")
    digits, labels = proxy_batch(8, inputs="digits")
    assert noise.shape == digits.shape == (8, 3, 32, 32) and int(labels.max()) <= 9
    for kwargs, message in [({"inputs": "noise"}, "noise has no content"), ({"inputs": "cifar"}, "unknown input"),
                            ({"labels": "true"}, "unknown labels"), ({"batch": 1}, "at least 2")]:
        with pytest.raises(ProxyBatchError, match=message):
            proxy_batch(**{"batch": 4, **kwargs})
