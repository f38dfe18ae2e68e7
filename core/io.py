"""Files written whole or not at all, and checkpoints read without unpickling code.

Every run file, cache and prepared shard goes through :func:`atomic_write` or :func:`atomic_dir`:
the data is written beside its final name and renamed into place, so an interrupted write never
leaves a half-written file where a reader would trust it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **open_kwargs: Any) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success fsync and rename it onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would have
    os.close(fd)
    try:
        with open(tmp, mode, **open_kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    """The process's umask (reading it means setting it: done under a lock)."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_write(path, "w", encoding="utf-8") as handle:
        json.dump(obj, handle, indent=2, sort_keys=False, default=_json_default)
        handle.write("\n")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):  # numpy / torch scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Fill a temporary directory beside ``path``; on success rename it onto ``path``.

    An existing ``path`` is replaced only once the new one is complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; give what mkdir() would have
    try:
        yield tmp
        _replace_dir(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _replace_dir(tmp: Path, path: Path) -> None:
    """Rename the complete ``tmp`` onto ``path``, moving an existing ``path`` aside first. Safe
    when other processes or threads finish the same folder at the same moment: each one's rename
    is whole, and the last one wins."""
    olds = []
    try:
        for _ in range(100):
            try:
                os.replace(tmp, path)  # an absent (or empty) path: done
                return
            except OSError as error:
                if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                # a folder is there (another writer's, maybe moved aside again by now): move it
                # aside, then try again
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
            try:
                os.replace(path, old)  # onto the empty folder just made
            except FileNotFoundError:
                old.rmdir()  # another writer moved it first
                continue
            olds.append(old)
        raise OSError(f"{path}: could not replace it; other writers kept replacing it")
    finally:
        for old in olds:
            shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu", *, mmap: bool = False) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` (tensors and plain containers, no code).

    Every way a checkpoint can be unusable is a :class:`~sciarch.DataError` naming the file (exit
    status 2): missing, empty or truncated ("truncated or empty checkpoint"), carrying pickled
    objects ("not a sciarch checkpoint (refused to unpickle objects)": nothing in it is run), or
    something else altogether. ``mmap=True`` leaves the tensors on disk (a cheap check of a big
    checkpoint before a run resumes from it, :func:`check_checkpoint`).
    """
    import pickle
    import warnings
    import zipfile

    import torch

    from .errors import DataError

    path = Path(path)
    if not path.is_file():
        raise DataError("no such checkpoint file", file=path)
    size = path.stat().st_size
    if size == 0:
        raise DataError("truncated or empty checkpoint (0 bytes)", file=path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return {"state_dict": load_file(str(path), device=str(map_location))}
        except Exception as exc:  # safetensors raises its own SafetensorError for a short or bad header
            raise DataError(f"truncated or not a safetensors file ({_first_line(exc)})", file=path) from None
    with open(path, "rb") as handle:
        magic = handle.read(4)
    is_zip = zipfile.is_zipfile(path)
    if magic.startswith(b"PK") and not is_zip:
        raise DataError(f"truncated or empty checkpoint ({size} bytes; the zip archive has no end)", file=path)
    if not is_zip and not magic.startswith(b"\x80"):
        raise DataError("not a checkpoint (neither a PyTorch archive nor safetensors)", file=path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's note on pickle protocols says nothing to a user
            state = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap and is_zip)
    except pickle.UnpicklingError:
        # weights_only refused a global (a class, a function): the file carries objects, not weights
        raise DataError("not a sciarch checkpoint (refused to unpickle objects)", file=path) from None
    except (EOFError, RuntimeError, zipfile.BadZipFile) as exc:
        text = _first_line(exc)
        if isinstance(exc, EOFError) or "PytorchStreamReader" in text or "zip archive" in text:
            raise DataError("truncated or empty checkpoint", file=path) from None
        raise DataError(f"not a sciarch checkpoint ({text})", file=path) from None
    except Exception as exc:
        raise DataError(f"cannot read checkpoint ({type(exc).__name__}: {_first_line(exc)})", file=path) from None
    if not isinstance(state, dict) or not isinstance(state.get("state_dict"), dict):
        keys = ", ".join(map(str, list(state)[:8])) if isinstance(state, dict) else type(state).__name__
        raise DataError(f"not a sciarch checkpoint (no state_dict; holds {keys or 'nothing'})", file=path)
    return state


def check_checkpoint(path: str | os.PathLike) -> None:
    """Raise :class:`~sciarch.DataError` now if ``path`` cannot be resumed from (see
    :func:`load_checkpoint`); tensors are memory-mapped, not read."""
    load_checkpoint(path, mmap=True)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__
