import gzip
import io
import os
import pickle
import struct
import tarfile
import zipfile

import numpy as np
import pytest
import torch

from searches.training.datasets import DatasetError
from searches.training.uploads import UPLOAD_FORMATS, inspect_upload, load_upload

torch.set_num_threads(1)
RNG = np.random.default_rng(0)


# --- file makers ------------------------------------------------------------------------------
def write(path, data: bytes):
    path.write_bytes(data)
    return path


def csv_file(tmp_path, text, name="data.csv"):
    return write(tmp_path / name, text.encode())


def npz_file(tmp_path, name="data.npz", **arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return write(tmp_path / name, buffer.getvalue())


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def zip_file(tmp_path, members: dict, name="data.zip"):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return write(tmp_path / name, buffer.getvalue())


def mnist_like(n=20, size=6):
    images = RNG.integers(0, 256, size=(n, size, size), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    return images, labels


def cifar_batch(n=12, labels=None, **extra) -> bytes:
    data = RNG.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    batch = {b"batch_label": b"training batch 1 of 5", b"data": data,
             b"labels": list(labels if labels is not None else np.arange(n) % 10), **extra}
    return pickle.dumps(batch, protocol=2)


def tar_gz(tmp_path, members: dict, name="cifar-10-python.tar.gz"):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return write(tmp_path / name, buffer.getvalue())


def raises(message, path, fmt, **options):
    with pytest.raises(DatasetError, match=message):
        inspect_upload(path, fmt, **options)


# --- registry and options ------------------------------------------------------------------------
def test_every_format_is_registered():
    assert set(UPLOAD_FORMATS) == {"csv", "npz", "idx", "cifar", "text"}
    assert UPLOAD_FORMATS["csv"].required_options() == ["label_column"]
    assert UPLOAD_FORMATS["text"].task == "language_modelling"


def test_unknown_format_and_options(tmp_path):
    path = csv_file(tmp_path, "a,label\n1,0\n")
    raises("unknown upload format 'xlsx'", path, "xlsx")
    raises("csv uploads need the label_column option", path, "csv")
    raises("take no option 'sheet'", path, "csv", label_column="label", sheet=1)


def test_empty_file_and_size_limit(tmp_path):
    raises("the file is empty", write(tmp_path / "empty.csv", b""), "csv", label_column="y")
    path = csv_file(tmp_path, "a,y\n" + "1,0\n2,1\n" * 50)
    raises("the limit is 100", path, "csv", label_column="y", max_bytes=100)
    raises("cannot read the file", tmp_path / "missing.csv", "csv", label_column="y")


# --- CSV -----------------------------------------------------------------------------------------
def test_csv_with_text_labels(tmp_path):
    rows = "".join(f"{i},{i * 0.5},{'cat' if i % 3 else 'dog'}\n" for i in range(30))
    path = csv_file(tmp_path, "a,b,species\n" + rows)
    assert inspect_upload(path, "csv", label_column="species") == {
        "samples": 30, "input_shape": [2], "num_classes": 2, "task": "classification"}
    data = load_upload(path, "csv", seed=0, label_column="species")
    assert set(torch.cat([data.y_train, data.y_val, data.y_test]).tolist()) == {0, 1}  # cat=0, dog=1
    assert torch.allclose(data.x_train.mean(0), torch.zeros(2), atol=1e-5)  # standardised


def test_csv_integer_labels_are_used_as_given(tmp_path):
    rows = "".join(f"{i % 3 + 2},{i}\n" for i in range(30))
    info = inspect_upload(csv_file(tmp_path, "y,x\n" + rows), "csv", label_column="y")
    assert info["num_classes"] == 5  # labels 2..4: classes 0 and 1 are simply empty


@pytest.mark.parametrize("text, message", [
    ("a,y\n1,0\n2\n", "line 3 has 1 fields but the header has 2"),
    ("a,y\n1,0\nhello,1\n", "column 'a', line 3: 'hello' is not a number"),
    ("a,b\n1,0\n", "the label column 'y' is not in the header"),
    ("y\n1\n2\n", "at least one feature column"),
    ("a,y\n" + "".join(f"{i},-1\n{i},0\n" for i in range(6)), "labels must be 0 or more; found -1"),
    ("a,y\n" + "".join(f"{i},{i / 3}\n" for i in range(12)), "looks like a regression target"),
    ("a,y\n" + "".join(f"{i},4\n" for i in range(12)), "every sample has the label 4"),
    ("a,y\n" + "".join(f"{i},{i * 200}\n" for i in range(12)), "at most 1000 classes"),
    ("a,y\n1,0\n2,1\n", "at least 10 samples"),
    ("a,y\n" + "".join(f"nan,{i % 2}\n" for i in range(12)), "NaN or infinite"),
])
def test_csv_errors(tmp_path, text, message):
    raises(message, csv_file(tmp_path, text), "csv", label_column="y")


def test_csv_that_is_not_text(tmp_path):
    raises("not UTF-8 text", write(tmp_path / "x.csv", b"\xff\xfe\x00garbage"), "csv", label_column="y")
    huge_field = b"a,y\n" + b"1" * 200_000 + b",0\n"
    raises("malformed at line 2: field larger than field limit", write(tmp_path / "n.csv", huge_field), "csv",
           label_column="y")


def test_csv_options_are_checked(tmp_path):
    path = csv_file(tmp_path, "a;y\n" + "".join(f"{i};{i % 2}\n" for i in range(12)))
    assert inspect_upload(path, "csv", label_column="y", delimiter=";")["samples"] == 12
    raises("the delimiter must be one character", path, "csv", label_column="y", delimiter=";;")
    raises("label_column must be a column name", path, "csv", label_column=3)


def test_csv_line_numbers_count_blank_lines(tmp_path):
    raises("line 4 has 3 fields", csv_file(tmp_path, "a,y\n1,0\n\n1,2,3\n"), "csv", label_column="y")


# --- NPZ -----------------------------------------------------------------------------------------
def test_npz_tabular_and_images(tmp_path):
    table = npz_file(tmp_path, "t.npz", X=RNG.normal(size=(40, 5)), y=np.arange(40) % 4)
    assert inspect_upload(table, "npz")["input_shape"] == [5]
    images = npz_file(tmp_path, "i.npz", X=RNG.integers(0, 256, (40, 7, 7), dtype=np.uint8), y=np.arange(40) % 3)
    data = load_upload(images, "npz", seed=1)
    assert data.input_shape == (1, 7, 7) and data.num_classes == 3
    assert 0 <= float(data.x_train.min()) and float(data.x_train.max()) <= 1  # bytes scaled to [0, 1]


def test_npz_errors(tmp_path):
    good_x, good_y = RNG.normal(size=(20, 3)), np.arange(20) % 2
    raises("needs arrays 'X' and 'y'", npz_file(tmp_path, "a.npz", data=good_x, y=good_y), "npz")
    raises("shape mismatch: 20 samples but 19 labels", npz_file(tmp_path, "b.npz", X=good_x, y=good_y[:19]), "npz")
    raises("labels must be one number per sample", npz_file(tmp_path, "c.npz", X=good_x, y=good_x), "npz")
    raises("X must be numeric", npz_file(tmp_path, "d.npz", X=np.array([["a"]] * 20), y=good_y), "npz")
    raises("plain numeric arrays", npz_file(tmp_path, "e.npz", X=np.array([{}] * 20, dtype=object), y=good_y), "npz")
    raises("labels go up to 5000", npz_file(tmp_path, "f.npz", X=good_x, y=np.arange(20) * 250 + 250), "npz")
    raises("must be \\(count, height, width\\)", npz_file(tmp_path, "g.npz", X=np.zeros((20, 2, 2, 2, 2)),
                                                         y=good_y), "npz")
    raises("not a valid .npz archive", write(tmp_path / "h.npz", b"definitely not a zip"), "npz")


def test_npz_that_unpacks_past_the_limit_is_refused(tmp_path):
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, X=np.zeros((20_000, 10)), y=np.arange(20_000) % 2)  # ~1.6 MB unpacked
    assert path.stat().st_size < 100_000
    raises("unpacks to more than the limit", path, "npz", max_bytes=200_000)


# --- MNIST IDX -----------------------------------------------------------------------------------
def test_idx_zip_of_images_and_labels(tmp_path):
    images, labels = mnist_like()
    path = zip_file(tmp_path, {"train-images-idx3-ubyte": idx_bytes(images),
                               "train-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(labels))})
    assert inspect_upload(path, "idx") == {"samples": 20, "input_shape": [1, 6, 6], "num_classes": 10,
                                           "task": "classification"}
    data = load_upload(path, "idx", seed=0)
    all_x = torch.cat([data.x_train, data.x_val, data.x_test])
    assert sorted(all_x.sum(dim=(1, 2, 3)).tolist()) == pytest.approx(
        sorted((images.astype(np.float32) / 255).sum(axis=(1, 2)).tolist()), rel=1e-5)


def test_idx_train_and_test_pairs_are_joined(tmp_path):
    (a, la), (b, lb) = mnist_like(20), mnist_like(10)
    path = zip_file(tmp_path, {"train-images-idx3-ubyte": idx_bytes(a), "train-labels-idx1-ubyte": idx_bytes(la),
                               "t10k-images-idx3-ubyte": idx_bytes(b), "t10k-labels-idx1-ubyte": idx_bytes(lb)})
    assert inspect_upload(path, "idx")["samples"] == 30


def test_idx_in_a_tar_gz_of_gzipped_files(tmp_path):
    images, labels = mnist_like()
    path = tar_gz(tmp_path, {"mnist/train-images-idx3-ubyte.gz": gzip.compress(idx_bytes(images)),
                             "mnist/train-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(labels))}, "mnist.tar.gz")
    assert inspect_upload(path, "idx")["samples"] == 20


def test_idx_errors(tmp_path):
    images, labels = mnist_like()
    good_labels = idx_bytes(labels)

    def pair(image_bytes, label_bytes=good_labels, name="x.zip"):
        return zip_file(tmp_path, {"i-idx3": image_bytes, "l-idx1": label_bytes}, name)

    raises("an IDX upload is an archive", write(tmp_path / "lonely", idx_bytes(images)), "idx")
    raises("matching IDX image and label files", zip_file(tmp_path, {"i": idx_bytes(images)}, "one.zip"), "idx")
    raises("take no option 'labels_path'", pair(idx_bytes(images), name="p.zip"), "idx", labels_path="/etc/passwd")
    truncated = idx_bytes(images)[:-7]
    raises("the header promises 720 bytes of values for shape \\(20, 6, 6\\), the file holds 713",
           pair(truncated, name="t.zip"), "idx")
    raises("shape mismatch: i-idx3 has 20 images, l-idx1 19 labels",
           pair(idx_bytes(images), idx_bytes(labels[:19]), "m.zip"), "idx")
    raises("the zip archive is corrupt", write(tmp_path / "c.zip", b"PK\x03\x04broken"), "idx")
    bad_dtype = bytes([0, 0, 0x42, 3]) + idx_bytes(images)[4:]
    raises("matching IDX image and label files; found 0 image and 1 label", pair(bad_dtype, name="b.zip"), "idx")
    raises("i-idx3: the IDX header is corrupt", pair(b"\x00\x00\x08\x03\x00", name="h.zip"), "idx")
    raises("every sample has the label 3", pair(idx_bytes(images), idx_bytes(np.full(20, 3, np.uint8)), "s.zip"),
           "idx")


# --- CIFAR-10 python batches ---------------------------------------------------------------------
def test_cifar_single_batch(tmp_path):
    path = write(tmp_path / "data_batch_1", cifar_batch(12))
    assert inspect_upload(path, "cifar") == {"samples": 12, "input_shape": [3, 32, 32], "num_classes": 10,
                                             "task": "classification"}
    assert load_upload(path, "cifar", seed=0).x_train.max() <= 1


def test_cifar_archive_of_batches(tmp_path):
    path = tar_gz(tmp_path, {"cifar-10-batches-py/data_batch_1": cifar_batch(12),
                             "cifar-10-batches-py/test_batch": cifar_batch(8),
                             "cifar-10-batches-py/batches.meta": pickle.dumps({b"label_names": []})})
    assert inspect_upload(path, "cifar")["samples"] == 20


class Exploit:
    """A pickle that would create a folder when loaded by an unrestricted unpickler."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (self.target,))


def test_cifar_refuses_a_pickle_that_runs_code(tmp_path):
    target = tmp_path / "pwned"
    path = write(tmp_path / "data_batch_1", pickle.dumps({b"data": Exploit(str(target)), b"labels": [0]}))
    raises("the pickle asks for posix.mkdir, which is not allowed", path, "cifar")
    assert not target.exists()
    assert pickle.loads(path.read_bytes()) is not None and target.exists()  # the exploit is real


def test_cifar_errors(tmp_path):
    raises("not a CIFAR python batch \\(corrupt pickle", write(tmp_path / "a", b"\x80\x02}q\x00(X"), "cifar")
    raises("holds a list, not a dict", write(tmp_path / "b", pickle.dumps([1, 2])), "cifar")
    raises("lacks b'data' or b'labels'", write(tmp_path / "c", pickle.dumps({b"data": np.zeros((2, 3072))})), "cifar")
    raises("must be \\(N, 3072\\) or \\(N, C, H, W\\)",
           write(tmp_path / "d", pickle.dumps({b"data": np.zeros((12, 100), np.uint8), b"labels": [0] * 12})), "cifar")
    raises("shape mismatch in the file: 12 images but labels of shape \\(11,\\)",
           write(tmp_path / "e", cifar_batch(12, labels=list(range(11)))), "cifar")
    raises("labels must be 0 or more", write(tmp_path / "f", cifar_batch(12, labels=[-1] + [1] * 11)), "cifar")
    raises("no data_batch_\\* or test_batch", tar_gz(tmp_path, {"readme.html": b"hi"}, "g.tar.gz"), "cifar")


# --- text for language modelling -----------------------------------------------------------------
def test_text_language_modelling(tmp_path):
    text = "the quick brown fox jumps over the lazy dog. " * 20
    path = write(tmp_path / "corpus.txt", text.encode())
    info = inspect_upload(path, "text", seq_len=16)
    vocab = sorted(set(text))
    assert info == {"samples": (len(text) - 1) // 16, "input_shape": [16], "num_classes": len(vocab),
                    "task": "language_modelling", "vocab_size": len(vocab)}
    data = load_upload(path, "text", seed=0, seq_len=16)
    assert data.task == "language_modelling" and data.vocab_size == len(vocab)
    assert data.y_train.shape == data.x_train.shape
    # The target is the input shifted by one character: decode one sample and check.
    x, y = data.x_train[0].long().tolist(), data.y_train[0].tolist()
    assert x[1:] == y[:-1]
    decoded = "".join(vocab[i] for i in x) + vocab[y[-1]]
    assert decoded in text


@pytest.mark.parametrize("content, options, message", [
    (b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", {}, "at least two distinct characters"),
    (b"hello world", {}, "the text is too short: 11 characters make 0 sequences"),
    (b"\xc3\x28 invalid", {}, "not UTF-8 text"),
    (b"hello world" * 100, {"seq_len": 1}, "seq_len must be a whole number from 2 to 4096"),
    ("".join(chr(0x4E00 + i) for i in range(1200)).encode(), {"seq_len": 4}, "1200 distinct characters"),
])
def test_text_errors(tmp_path, content, options, message):
    raises(message, write(tmp_path / "t.txt", content), "text", **options)


def test_load_upload_is_deterministic_under_a_seed(tmp_path):
    path = npz_file(tmp_path, X=RNG.normal(size=(50, 3)), y=np.arange(50) % 2)
    a, b, c = (load_upload(path, "npz", seed=s) for s in (7, 7, 8))
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_val, b.y_val)
    assert not torch.equal(a.x_train, c.x_train)


@pytest.mark.parametrize("x,y", [(np.zeros((20, 0)), np.arange(20) % 2), (np.zeros((20, 0, 4)), np.arange(20) % 2),
                                 (np.zeros((20, 1, 3, 0)), np.arange(20) % 2), (np.zeros((0, 4)), np.zeros(0, int))],
                         ids=["no columns", "zero height", "zero width", "no samples"])
def test_npz_without_features_or_samples_is_refused(tmp_path, x, y):
    raises("no features|no samples", npz_file(tmp_path, "z.npz", X=x, y=y), "npz")
