"""Uploaded datasets: CSV, NPZ, MNIST IDX, CIFAR-10 python batches and plain text.

Every reader turns a file into numpy arrays and checks them, raising DatasetError
with a message a user can act on (wrong format, corrupt file, shapes that do not
match, non-numeric data, labels out of range, an empty or oversized file).
`inspect_upload` runs at upload time and returns the facts the form shows;
`load_upload` runs on the worker and returns seeded train/val/test splits.

Files are read into memory whole and never unpacked to disk; archives and gzip
streams are checked against the same size limit after decompression, so a small
compressed bomb cannot exhaust memory. Pickles (CIFAR) are read by an unpickler
that can build only plain containers and numpy arrays, never call arbitrary code.
"""

from __future__ import annotations

import csv
import inspect
import io
import os
import pickle
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .datasets import CLASSIFICATION, LANGUAGE_MODELLING, DatasetError, DataSplits, split_arrays, standardise

DEFAULT_MAX_BYTES = 256 * 2**20
MAX_CLASSES = 1000
MIN_SAMPLES = 10
DEFAULT_SEQ_LEN = 64


@dataclass
class RawData:
    """A checked upload before splitting: x is (N, *input_shape), y is (N,) or (N, L)."""

    x: np.ndarray
    y: np.ndarray
    num_classes: int
    task: str = CLASSIFICATION
    vocab_size: int = 0
    #: Tabular features are standardised with training-split statistics after the split.
    tabular: bool = False

    @property
    def input_shape(self) -> tuple:
        return tuple(int(d) for d in self.x.shape[1:])

    def summary(self) -> dict:
        info = {"samples": len(self.x), "input_shape": list(self.input_shape),
                "num_classes": self.num_classes, "task": self.task}
        if self.vocab_size:
            info["vocab_size"] = self.vocab_size
        return info


# --- bytes in, with limits ----------------------------------------------------------------
def read_file(path, max_bytes: int) -> bytes:
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise DatasetError(f"cannot read the file: {exc.strerror or exc}") from exc
    if size == 0:
        raise DatasetError("the file is empty")
    if size > max_bytes:
        raise DatasetError(f"the file is {size:,} bytes; the limit is {max_bytes:,}")
    with open(path, "rb") as handle:
        return handle.read()


def is_gzip(data: bytes) -> bool:
    return data[:2] == b"\x1f\x8b"


def gunzip(data: bytes, max_bytes: int) -> bytes:
    """Decompress a gzip stream, refusing output past the limit."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise DatasetError(f"the gzip data is corrupt: {exc}") from exc
    if len(out) > max_bytes:
        raise DatasetError(f"the file unpacks to more than the limit of {max_bytes:,} bytes")
    if not inflater.eof:
        raise DatasetError("the gzip data is truncated")
    return out


ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError)


def open_zip(data: bytes, max_bytes: int) -> zipfile.ZipFile:
    """A zip archive whose declared unpacked size is within the limit."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except ZIP_ERRORS as exc:
        raise DatasetError(f"the zip archive is corrupt: {exc}") from exc
    if sum(i.file_size for i in archive.infolist()) > max_bytes:
        raise DatasetError(f"the archive unpacks to more than the limit of {max_bytes:,} bytes")
    return archive


def maybe_gunzip(data: bytes, max_bytes: int) -> bytes:
    return gunzip(data, max_bytes) if is_gzip(data) else data


def zip_members(data: bytes, max_bytes: int) -> dict[str, bytes]:
    """Regular files of a zip archive by name (directories skipped), within the size limit."""
    archive = open_zip(data, max_bytes)
    try:
        return {i.filename: archive.read(i) for i in archive.infolist() if not i.is_dir()}
    except ZIP_ERRORS as exc:  # a member whose data does not match its header
        raise DatasetError(f"the zip archive is corrupt: {exc}") from exc


def tar_members(data: bytes, max_bytes: int) -> dict[str, bytes]:
    """Regular files of a tar archive by name, read in memory (never extracted to disk)."""
    try:
        archive = tarfile.open(fileobj=io.BytesIO(data), mode="r:")
        infos = [m for m in archive.getmembers() if m.isfile()]
        if sum(m.size for m in infos) > max_bytes:
            raise DatasetError(f"the archive unpacks to more than the limit of {max_bytes:,} bytes")
        return {m.name: archive.extractfile(m).read() for m in infos}
    except (tarfile.TarError, EOFError) as exc:
        raise DatasetError(f"the tar archive is corrupt: {exc}") from exc


def is_tar(data: bytes) -> bool:
    return len(data) > 262 and data[257:262] == b"ustar"


def archive_members(data: bytes, max_bytes: int) -> dict[str, bytes] | None:
    """The files of a zip, tar or tar.gz archive; None when the data is not an archive."""
    if data.startswith(b"PK"):
        return zip_members(data, max_bytes)
    unpacked = maybe_gunzip(data, max_bytes)
    if is_tar(unpacked):
        return tar_members(unpacked, max_bytes)
    return None


def decode_text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"the file is not UTF-8 text (byte {exc.start} cannot be decoded)") from exc


# --- checks shared by the formats -------------------------------------------------------------
def check_features(x: np.ndarray, what: str = "features") -> None:
    if len(x) == 0:
        raise DatasetError(f"{what} has no samples")
    if x.ndim >= 2 and 0 in x.shape[1:]:
        raise DatasetError(f"{what} has no features: each sample is shaped {x.shape[1:]}")
    if x.dtype == np.bool_:
        return
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise DatasetError(f"{what} must be numeric, got dtype {x.dtype}")
    if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
        raise DatasetError(f"{what} contain NaN or infinite values")


def check_labels(y: np.ndarray, samples: int) -> int:
    """Validate class labels and return the number of classes (largest label + 1)."""
    if y.ndim != 1:
        raise DatasetError(f"labels must be one number per sample (1-D), got shape {y.shape}")
    if len(y) != samples:
        raise DatasetError(f"shape mismatch: {samples} samples but {len(y)} labels")
    if samples == 0:
        raise DatasetError("there are no samples")
    if not np.issubdtype(y.dtype, np.integer) and not np.issubdtype(y.dtype, np.floating):
        raise DatasetError(f"labels must be integers, got dtype {y.dtype}")
    if np.issubdtype(y.dtype, np.floating) and not (np.isfinite(y).all() and (y == np.round(y)).all()):
        raise DatasetError("labels must be whole numbers (class indices); this looks like a regression target")
    if y.min() < 0:
        raise DatasetError(f"labels must be 0 or more; found {int(y.min())}")
    num_classes = int(y.max()) + 1
    if num_classes > MAX_CLASSES:
        raise DatasetError(f"labels go up to {num_classes - 1}; at most {MAX_CLASSES} classes are supported")
    if len(np.unique(y)) < 2:
        raise DatasetError(f"every sample has the label {int(y[0])}; a classifier needs at least two classes")
    return num_classes


def image_shape(x: np.ndarray, what: str) -> np.ndarray:
    """(N, H, W) -> (N, 1, H, W); (N, C, H, W) stays; anything else is an error."""
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4:
        return x
    raise DatasetError(f"{what} must be (count, height, width) or (count, channels, height, width), "
                       f"got shape {x.shape}")


def unit_range(x: np.ndarray) -> np.ndarray:
    """Bytes (pixels) to [0, 1]; other numbers are kept as they are."""
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    return x.astype(np.float32)


# --- CSV ----------------------------------------------------------------------------------
def read_csv(data: bytes, max_bytes: int, *, label_column: str, delimiter: str = ",") -> RawData:
    """A header row, one label column, every other column numeric; blank lines are skipped."""
    if not isinstance(label_column, str):
        raise DatasetError(f"label_column must be a column name, got {label_column!r}")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise DatasetError(f"the delimiter must be one character, got {delimiter!r}")
    reader = csv.reader(io.StringIO(decode_text(data)), delimiter=delimiter)
    try:
        header, features, labels = csv_rows(reader, label_column)
    except csv.Error as exc:
        raise DatasetError(f"the CSV file is malformed at line {reader.line_num}: {exc}") from exc
    x = np.asarray(features, dtype=np.float32).reshape(len(features), len(header) - 1)
    check_features(x)
    y = csv_labels(labels)
    num_classes = check_labels(y, len(x))
    return RawData(x, y.astype(np.int64), num_classes, tabular=True)


def csv_rows(reader, label_column: str) -> tuple[list[str], list[list[float]], list[str]]:
    """(header, feature rows, label strings), checking each row as it is read."""
    header = next((row for row in reader if row), None)
    if header is None:
        raise DatasetError("the CSV file has no rows")
    header = [h.strip() for h in header]
    if label_column not in header:
        raise DatasetError(f"the label column {label_column!r} is not in the header {header}")
    if len(header) < 2:
        raise DatasetError("the CSV file needs at least one feature column besides the labels")
    label_at = header.index(label_column)
    features, labels = [], []
    for row in reader:
        if not row:
            continue
        line = reader.line_num
        if len(row) != len(header):
            raise DatasetError(f"line {line} has {len(row)} fields but the header has {len(header)}")
        labels.append(row[label_at].strip())
        features.append([csv_number(row[i], header[i], line) for i in range(len(row)) if i != label_at])
    return header, features, labels


def csv_number(text: str, column: str, line: int) -> float:
    try:
        return float(text)
    except ValueError:
        raise DatasetError(f"column {column!r}, line {line}: {text!r} is not a number") from None


def csv_labels(labels: list[str]) -> np.ndarray:
    """Integer labels are used as they are; text labels become 0..K-1 in sorted order."""
    try:
        numbers = np.asarray([float(v) for v in labels])
    except ValueError:
        names = sorted(set(labels))
        index = {name: i for i, name in enumerate(names)}
        return np.asarray([index[v] for v in labels], dtype=np.int64)
    return numbers


# --- NPZ ----------------------------------------------------------------------------------
def read_npz(data: bytes, max_bytes: int) -> RawData:
    """Arrays X (N, F), (N, H, W) or (N, C, H, W) and y (N,); no pickled objects."""
    if not data.startswith(b"PK"):
        raise DatasetError("not a valid .npz archive (it is not a zip file)")
    names = [n.removesuffix(".npy") for n in open_zip(data, max_bytes).namelist()]
    if "X" not in names or "y" not in names:
        raise DatasetError(f"the .npz archive needs arrays 'X' and 'y'; it has {names}")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            x, y = archive["X"], archive["y"]
    except ValueError as exc:  # object arrays need pickle, which stays off; or a corrupt .npy header
        raise DatasetError(f"the .npz arrays must be plain numeric arrays: {exc}") from exc
    except (OSError, *ZIP_ERRORS) as exc:
        raise DatasetError(f"not a valid .npz archive: {exc}") from exc
    check_features(x, "X")
    num_classes = check_labels(y, len(x))
    if x.ndim == 2:
        return RawData(x.astype(np.float32), y, num_classes, tabular=True)
    return RawData(unit_range(image_shape(x, "X")), y, num_classes)


# --- MNIST IDX ---------------------------------------------------------------------------------
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(data: bytes, name: str) -> np.ndarray:
    """One IDX array: magic 00 00 <dtype> <ndim>, big-endian int32 dims, then the values."""
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] not in IDX_DTYPES:
        raise DatasetError(f"{name} is not an IDX file (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise DatasetError(f"{name}: the IDX header is corrupt")
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    dtype = np.dtype(IDX_DTYPES[data[2]])
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(data) - header != expected:
        raise DatasetError(f"{name}: the header promises {expected:,} bytes of values for shape {dims}, "
                           f"the file holds {len(data) - header:,}")
    return np.frombuffer(data, dtype, offset=header).reshape(dims)


def idx_pairs(data: bytes, max_bytes: int) -> list[tuple[str, bytes, str, bytes]]:
    """(images name, images, labels name, labels) for each pair in the archive.

    Images and labels files are told apart by their headers (3 and 1 dimensions)
    and paired in name order, which pairs train-images with train-labels and
    t10k-images with t10k-labels.
    """
    members = archive_members(data, max_bytes)
    if members is None:
        raise DatasetError("an IDX upload is an archive (zip, tar or tar.gz) holding the images file and the "
                           "labels file; this is not an archive")
    members = {n: maybe_gunzip(b, max_bytes) for n, b in members.items()}
    images = sorted(n for n, b in members.items() if idx_rank(b) == 3)
    label_files = sorted(n for n, b in members.items() if idx_rank(b) == 1)
    if not images or len(images) != len(label_files):
        raise DatasetError(f"the archive must hold matching IDX image and label files; found "
                           f"{len(images)} image and {len(label_files)} label files")
    return [(i, members[i], lab, members[lab]) for i, lab in zip(images, label_files, strict=True)]


def idx_rank(data: bytes) -> int:
    """Number of dimensions an IDX header announces; 0 when it is not an IDX header."""
    return data[3] if len(data) >= 4 and data[:2] == b"\x00\x00" and data[2] in IDX_DTYPES else 0


def read_idx(data: bytes, max_bytes: int) -> RawData:
    """MNIST-style images (N, H, W) and labels (N,) from one archive (files may be gzipped)."""
    xs, ys = [], []
    for images_name, images, labels_name, label_bytes in idx_pairs(data, max_bytes):
        x, y = parse_idx(images, images_name), parse_idx(label_bytes, labels_name)
        if x.ndim != 3:
            raise DatasetError(f"{images_name} must hold images (count, rows, columns), got shape {x.shape}")
        if len(x) != len(y):
            raise DatasetError(f"shape mismatch: {images_name} has {len(x)} images, {labels_name} {len(y)} labels")
        xs.append(x)
        ys.append(y)
    if len({x.shape[1:] for x in xs}) > 1:
        raise DatasetError(f"the image files disagree on the image size: {[x.shape[1:] for x in xs]}")
    x, y = np.concatenate(xs), np.concatenate(ys).astype(np.int64)
    check_features(x, "images")
    return RawData(unit_range(x[:, None]), y, check_labels(y, len(x)))


# --- CIFAR-10 python batches ---------------------------------------------------------------------
#: What a numpy array pickle may ask for (numpy 1 and 2 module names), and nothing else.
SAFE_PICKLE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),  # numpy integers in a label list
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("builtins", "bytearray"),
    ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 spell bytes
}


class ForbiddenGlobal(pickle.UnpicklingError):
    pass


class DataOnlyUnpickler(pickle.Unpickler):
    """Builds dicts, lists, numbers, strings and numpy arrays; refuses every other global,
    so a crafted pickle cannot reach os.system or any other callable."""

    def find_class(self, module: str, name: str):
        if (module, name) not in SAFE_PICKLE_GLOBALS:
            raise ForbiddenGlobal(f"the pickle asks for {module}.{name}, which is not allowed: "
                                         "only plain data and numpy arrays may be loaded")
        return super().find_class(module, name)


def unpickle_data(data: bytes, name: str):
    try:
        return DataOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
    except ForbiddenGlobal as exc:
        raise DatasetError(f"{name} is not a safe CIFAR batch: {exc}") from exc
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            MemoryError) as exc:
        raise DatasetError(f"{name} is not a CIFAR python batch (corrupt pickle: {exc})") from exc


def batch_field(batch: dict, *keys: str):
    for key in keys:
        for spelled in (key.encode(), key):
            if spelled in batch:
                return batch[spelled]
    return None


def cifar_batch(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    batch = unpickle_data(data, name)
    if not isinstance(batch, dict):
        raise DatasetError(f"{name} is not a CIFAR python batch: it holds a {type(batch).__name__}, not a dict")
    x, labels = batch_field(batch, "data"), batch_field(batch, "labels", "fine_labels")
    if x is None or labels is None:
        raise DatasetError(f"{name} lacks b'data' or b'labels'")
    if not isinstance(x, np.ndarray):
        raise DatasetError(f"{name}: b'data' must be a numpy array, got {type(x).__name__}")
    check_features(x, f"{name} b'data'")
    if x.ndim == 2 and x.shape[1] == 3 * 32 * 32:
        x = x.reshape(len(x), 3, 32, 32)
    if x.ndim != 4:
        raise DatasetError(f"{name}: b'data' must be (N, 3072) or (N, C, H, W), got shape {x.shape}")
    try:
        y = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"{name}: labels must be integers ({exc})") from exc
    if y.ndim != 1 or len(y) != len(x):
        raise DatasetError(f"shape mismatch in {name}: {len(x)} images but labels of shape {y.shape}")
    return x, y


def cifar_files(data: bytes, max_bytes: int) -> dict[str, bytes]:
    """One batch file, or the data/test batches of a tar, tar.gz or zip archive."""
    members = archive_members(data, max_bytes)
    if members is not None:
        batches = {n: b for n, b in sorted(members.items())
                   if os.path.basename(n).startswith(("data_batch", "test_batch"))}
        if not batches:
            raise DatasetError("the archive holds no data_batch_* or test_batch files")
        return batches
    return {"the file": maybe_gunzip(data, max_bytes)}


def read_cifar(data: bytes, max_bytes: int) -> RawData:
    pairs = [cifar_batch(blob, name) for name, blob in cifar_files(data, max_bytes).items()]
    if len({x.shape[1:] for x, _ in pairs}) > 1:
        raise DatasetError(f"the batches disagree on the image shape: {[x.shape[1:] for x, _ in pairs]}")
    x = np.concatenate([x for x, _ in pairs])
    y = np.concatenate([y for _, y in pairs])
    return RawData(unit_range(x), y, check_labels(y, len(x)))


# --- plain text for character-level language modelling ----------------------------------------
def read_text(data: bytes, max_bytes: int, *, seq_len: int = DEFAULT_SEQ_LEN) -> RawData:
    """Cut the text into sequences of seq_len characters; the target is the next character.

    The vocabulary is the sorted set of characters in the text, so ids are stable
    for a given file.
    """
    if isinstance(seq_len, bool) or not isinstance(seq_len, int) or not 2 <= seq_len <= 4096:
        raise DatasetError(f"seq_len must be a whole number from 2 to 4096, got {seq_len!r}")
    text = decode_text(data)
    vocab = sorted(set(text))
    if len(vocab) < 2:
        raise DatasetError("the text needs at least two distinct characters")
    if len(vocab) > MAX_CLASSES:
        raise DatasetError(f"the text has {len(vocab)} distinct characters; at most {MAX_CLASSES} are supported")
    lookup = {ch: i for i, ch in enumerate(vocab)}
    ids = np.fromiter((lookup[ch] for ch in text), dtype=np.int64, count=len(text))
    count = (len(ids) - 1) // seq_len
    if count < MIN_SAMPLES:
        raise DatasetError(f"the text is too short: {len(text)} characters make {count} sequences of "
                           f"{seq_len}; need at least {MIN_SAMPLES}")
    x = ids[: count * seq_len].reshape(count, seq_len)
    y = ids[1: count * seq_len + 1].reshape(count, seq_len)
    return RawData(x.astype(np.float32), y, len(vocab), task=LANGUAGE_MODELLING, vocab_size=len(vocab))


# --- the registry and the two entry points -----------------------------------------------------
@dataclass(frozen=True)
class UploadFormat:
    key: str
    label: str
    task: str
    reader: Callable[..., RawData]

    def options(self) -> list[str]:
        params = list(inspect.signature(self.reader).parameters.values())
        return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]

    def required_options(self) -> list[str]:
        params = inspect.signature(self.reader).parameters.values()
        return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is p.empty]


UPLOAD_FORMATS: dict[str, UploadFormat] = {
    "csv": UploadFormat("csv", "CSV table with a label column", CLASSIFICATION, read_csv),
    "npz": UploadFormat("npz", "NumPy .npz with arrays X and y", CLASSIFICATION, read_npz),
    "idx": UploadFormat("idx", "MNIST IDX images + labels (zip or tar of both)", CLASSIFICATION, read_idx),
    "cifar": UploadFormat("cifar", "CIFAR-10 python batches", CLASSIFICATION, read_cifar),
    "text": UploadFormat("text", "Plain text (character-level language model)", LANGUAGE_MODELLING, read_text),
}


def read_upload(path, fmt: str, max_bytes: int = DEFAULT_MAX_BYTES, **options) -> RawData:
    if fmt not in UPLOAD_FORMATS:
        raise DatasetError(f"unknown upload format {fmt!r}; choose one of {sorted(UPLOAD_FORMATS)}")
    upload = UPLOAD_FORMATS[fmt]
    unknown = sorted(set(options) - set(upload.options()))
    if unknown:
        raise DatasetError(f"{fmt} uploads take no option {unknown[0]!r}; their options: {upload.options()}")
    missing = [name for name in upload.required_options() if options.get(name) in (None, "")]
    if missing:
        raise DatasetError(f"{fmt} uploads need the {missing[0]} option")
    raw = upload.reader(read_file(path, max_bytes), max_bytes, **options)
    if len(raw.x) < MIN_SAMPLES:
        raise DatasetError(f"need at least {MIN_SAMPLES} samples, got {len(raw.x)}")
    return raw


def inspect_upload(path, fmt: str, max_bytes: int = DEFAULT_MAX_BYTES, **options) -> dict:
    """Validate an upload; return samples, input_shape, num_classes, task (and vocab_size for text)."""
    return read_upload(path, fmt, max_bytes, **options).summary()


def load_upload(path, fmt: str, seed: int, max_bytes: int = DEFAULT_MAX_BYTES, **options) -> DataSplits:
    """Read, check and split an upload; the split is the same for the same seed."""
    raw = read_upload(path, fmt, max_bytes, **options)
    splits = split_arrays(raw.x, raw.y, raw.input_shape, raw.num_classes, seed,
                          task=raw.task, vocab_size=raw.vocab_size)
    return standardise(splits) if raw.tabular else splits
