"""torch's state_dict file format (a zip holding a pickle of tensors), read and written
without torch.

Detection and SBD fitting run in numpy; importing torch only to read or write a few
small weight arrays cost ~1.6 CPU s and ~870 MB per process. Files written here load with
`torch.load(path, weights_only=True)`, and files `torch.save` writes read here. Reading
allows plain tensors in (ordered) dicts and nothing else, as weights_only does: a pickle
naming any other class is refused, never run.
"""

from __future__ import annotations

import os
import pickle
import struct
import zipfile
from collections import OrderedDict
from typing import Any

import numpy as np

from vidskill.errors import ConfigError

_STORAGES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
             "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
             "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}
_STORAGE_OF = {np.dtype(v): k for k, v in _STORAGES.items()}
PREFIX = "archive"   # the zip's top folder (torch.save uses the file's stem; any one is read)


def _rebuild_tensor(storage: np.ndarray, offset: int, size: tuple, stride: tuple, *_) -> np.ndarray:
    """torch._utils._rebuild_tensor_v2 for a numpy storage: a strided view, copied."""
    if not size:
        return np.array(storage[offset])
    item = storage.itemsize
    return np.lib.stride_tricks.as_strided(
        storage[offset:], shape=tuple(size), strides=tuple(s * item for s in stride)).copy()


class _WeightsUnpickler(pickle.Unpickler):
    """Plain tensors in (ordered) dicts and nothing else, as torch.load(weights_only=True)."""

    def __init__(self, file, archive: zipfile.ZipFile, prefix: str):
        super().__init__(file)
        self._archive, self._prefix = archive, prefix

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGES:
            return _STORAGES[name]
        raise pickle.UnpicklingError(
            f"{module}.{name} is not allowed in a weights file (weights only: plain tensors)")

    def persistent_load(self, pid: tuple) -> np.ndarray:
        kind, dtype, key, _location, numel = pid
        if kind != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {kind!r} in a weights file")
        raw = self._archive.read(f"{self._prefix}/data/{key}")
        return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"), count=int(numel))


def read_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The tensors of a state_dict saved by `torch.save` or `write_state_dict`, as numpy
    arrays; anything but plain tensors in dicts is refused, never unpickled as code."""
    try:
        with zipfile.ZipFile(path) as archive:
            pkl = next(n for n in archive.namelist() if n.endswith("/data.pkl"))
            prefix = pkl[: -len("/data.pkl")]
            order = f"{prefix}/byteorder"
            if order in archive.namelist() and archive.read(order) != b"little":
                raise ConfigError(f"{path}: a big-endian weights file; re-save it on this machine")
            with archive.open(pkl) as f:
                state = _WeightsUnpickler(f, archive, prefix).load()
    except (zipfile.BadZipFile, StopIteration, KeyError, pickle.UnpicklingError) as e:
        raise ConfigError(f"{path} is not a weights file vidskill can read (weights only: a "
                          f"state_dict of plain tensors saved by torch.save): {e}") from None
    if not isinstance(state, dict) or not all(isinstance(v, np.ndarray) for v in state.values()):
        raise ConfigError(f"{path} holds no state_dict of tensors (weights only)")
    return dict(state)


# ---------------------------------------------------------------------------------------
# writing: the pickle torch.save writes for an OrderedDict of contiguous CPU tensors


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _text(s: str) -> bytes:
    raw = s.encode("utf-8")
    return b"X" + struct.pack("<I", len(raw)) + raw


def _int(i: int) -> bytes:
    return b"J" + struct.pack("<i", int(i))


def _ints(values: tuple[int, ...]) -> bytes:
    return b"(" + b"".join(_int(v) for v in values) + b"t"


def _pickle(arrays: dict[str, np.ndarray]) -> bytes:
    """Protocol-2 pickle of an OrderedDict name -> tensor, storage i = the i-th array."""
    out = [b"\x80\x02", _global("collections", "OrderedDict"), b")R("]
    for i, (name, a) in enumerate(arrays.items()):
        strides = tuple(s // a.itemsize for s in a.strides)
        out += [_text(name), _global("torch._utils", "_rebuild_tensor_v2"), b"((",
                _text("storage"), _global("torch", _STORAGE_OF[a.dtype]), _text(str(i)),
                _text("cpu"), _int(a.size), b"tQ", _int(0), _ints(a.shape), _ints(strides),
                b"\x89", _global("collections", "OrderedDict"), b")RtR"]
    out.append(b"u.")
    return b"".join(out)


def write_state_dict(file, arrays: dict[str, Any]) -> None:
    """Write `arrays` (numpy arrays, or torch tensors: copied to the CPU) to `file` (a path
    or a binary file object) in torch.save's zip format, loadable with weights_only=True."""
    plain = {}
    for name, value in arrays.items():
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        a = np.asarray(value).copy(order="C")
        if a.dtype not in _STORAGE_OF:
            raise ValueError(f"{name}: {a.dtype} arrays have no torch storage type")
        plain[str(name)] = a.astype(a.dtype.newbyteorder("<"), copy=False)
    entries = [("data.pkl", _pickle(plain)), (".format_version", b"1"), ("byteorder", b"little"),
               *((f"data/{i}", a.tobytes()) for i, a in enumerate(plain.values())),
               ("version", b"3\n")]
    with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED) as z:
        for name, data in entries:   # a fixed date: the same weights give the same bytes
            info = zipfile.ZipInfo(f"{PREFIX}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o600 << 16
            z.writestr(info, data)
