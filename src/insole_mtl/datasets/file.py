"""Shared fsspec plumbing of the project's single-file, optionally versioned Kedro datasets.

Writes are atomic on the local filesystem: the bytes go to a temporary file in the target's own folder
(``.<name>.tmp-<pid>-<random>``), are flushed and fsync'ed, then ``os.replace`` puts the file in place in one
step. A run that fails or is killed mid-write leaves the previous file (or none) and at most a hidden
temporary file, never a half-written file under the dataset's name that a later run would load as valid.
Other fsspec filesystems (object stores) publish an object only when its upload completes.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import IO, Any, Generic, TypeVar

import fsspec
from kedro.io.core import AbstractVersionedDataset, DatasetError, Version, get_filepath_str, get_protocol_and_path

_T = TypeVar("_T")


class FileDataset(AbstractVersionedDataset[_T, _T], Generic[_T]):
    """One file on any fsspec filesystem; subclasses say how the bytes are read and written."""

    def __init__(
        self,
        *,
        filepath: str,
        version: Version | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        protocol, path = get_protocol_and_path(filepath, version)
        self._protocol = protocol
        self._fs = fsspec.filesystem(protocol, **(fs_args or {}))
        self.metadata = metadata
        super().__init__(
            filepath=PurePosixPath(path),
            version=version,
            exists_function=self._fs.exists,
            glob_function=self._fs.glob,
        )

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "protocol": self._protocol, "version": self._version}

    def _load_path(self) -> str:
        return get_filepath_str(self._get_load_path(), self._protocol)

    def _write(self, writer: Callable[[IO[bytes]], None]) -> None:
        """Create the parent folder, let ``writer`` fill the (versioned) file, drop fsspec's cache."""
        save_path = get_filepath_str(self._get_save_path(), self._protocol)
        self._fs.makedirs(str(PurePosixPath(save_path).parent), exist_ok=True)
        if self._protocol == "file":
            atomic_write(save_path, writer)
        else:
            with self._fs.open(save_path, mode="wb") as f:
                writer(f)
        self._fs.invalidate_cache(str(self._filepath))

    def _exists(self) -> bool:
        try:
            load_path = self._load_path()
        except DatasetError:
            return False
        return self._fs.exists(load_path)


def atomic_write(path: str | os.PathLike[str], writer: Callable[[IO[bytes]], None]) -> None:
    """Write a local file atomically: ``writer`` fills a temporary file beside ``path``, which then replaces it.

    Args:
        path: the final file path (its folder must exist).
        writer: called once with the open temporary file (binary mode).

    On any exception (or a kill) the target is untouched; the temporary file is removed on an exception.
    """
    final = os.fspath(path)
    folder, name = os.path.split(final)
    tmp = os.path.join(folder, f".{name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "wb") as f:
            writer(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
