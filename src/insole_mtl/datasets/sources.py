"""Kedro datasets that read a real-data source into ``{"cohort": RawCohort, "drop_report": DataFrame}``.

Thin, read-only wrappers around the plain readers of :mod:`insole_mtl.sources` so a catalog
entry selects the source. A reader's error (``ValueError`` / ``FileNotFoundError`` naming file,
line, column, expected and found) is re-raised as one :class:`SourceDataError` with that message
alone and no chained traceback, so Kedro passes it through instead of wrapping it in a second
``DatasetError`` that repeats this dataset's description: the last line of ``kedro run`` is then
``DatasetError: raw_source: <the reader's message>``.

Catalog example::

    raw_source:
      type: insole_mtl.datasets.sources.GaitpdbDataset
      path: data/01_raw/gaitpdb
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import pandas as pd
from kedro.io import AbstractDataset, DatasetError

from insole_mtl.sources.gaitpdb import DEMOGRAPHICS_FILE, read_gaitpdb
from insole_mtl.sources.gilon import GILON_SPLITS, gilon_file_name, read_gilon
from insole_mtl.sources.recordings import RECORDINGS_DIR, SUBJECTS_FILE, read_recordings_folder

SourceData = dict[str, Any]  # {"cohort": RawCohort, "drop_report": pd.DataFrame}


class SourceDataError(DatasetError, ValueError):
    """A raw data source is malformed; the message names file, line / row, column / key, expected and found."""


class _ReadOnlySourceDataset(AbstractDataset[None, SourceData]):
    """Shared read-only behaviour: save refuses, describe gives the path."""

    def __init__(self, path: str, metadata: dict[str, Any] | None = None) -> None:
        self._path = Path(path)
        self.metadata = metadata

    def _save(self, data: Any) -> NoReturn:
        raise DatasetError(f"{type(self).__name__} ({self._path}) is read-only: a raw data source is never written by the pipeline")

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}

    def _read(self) -> tuple[Any, pd.DataFrame]:  # pragma: no cover - overridden
        raise NotImplementedError

    def _load(self) -> SourceData:
        try:
            cohort, report = self._read()
        except (ValueError, OSError) as exc:
            raise SourceDataError(str(exc) if not isinstance(exc, OSError) or exc.strerror is None else f"{exc.strerror}: {exc.filename}") from None
        return {"cohort": cohort, "drop_report": report}


class GaitpdbDataset(_ReadOnlySourceDataset):
    """PhysioNet gaitpdb folder (see :func:`insole_mtl.sources.gaitpdb.read_gaitpdb`).

    Args:
        path: Folder with ``demographics.txt`` and the recordings.
        include_totals: Also load the two per-foot total-force channels.
        metadata: Free-form Kedro metadata (unused).
    """

    def __init__(self, path: str, include_totals: bool = False, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(path, metadata)
        self._include_totals = include_totals

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path), "include_totals": self._include_totals}

    def _read(self) -> tuple[Any, pd.DataFrame]:
        return read_gaitpdb(self._path, include_totals=self._include_totals)

    def _exists(self) -> bool:
        return (self._path / DEMOGRAPHICS_FILE).is_file()


class GilonReleaseDataset(_ReadOnlySourceDataset):
    """Folder with the four GILON release CSVs (see :func:`insole_mtl.sources.gilon.read_gilon`)."""

    def _read(self) -> tuple[Any, pd.DataFrame]:
        return read_gilon(self._path)

    def _exists(self) -> bool:
        return all((self._path / gilon_file_name(s, k)).is_file() for s in GILON_SPLITS for k in ("feature", "label"))


class RecordingsFolderDataset(_ReadOnlySourceDataset):
    """A lab's recordings folder (see :mod:`insole_mtl.sources.recordings` for the format).

    Args:
        path: Folder with ``subjects.csv`` and ``recordings/``.
        channels: Channel columns to read, in output order.
        time_column: Optional time column name (seconds); ``None`` = row index / rate.
        sampling_rate_hz: Sampling rate of the files (Hz).
        metadata: Free-form Kedro metadata (unused).
    """

    def __init__(
        self,
        path: str,
        channels: list[str],
        time_column: str | None = "time_s",
        sampling_rate_hz: float = 40.0,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(path, metadata)
        self._channels = list(channels)
        self._time_column = time_column
        self._sampling_rate_hz = float(sampling_rate_hz)

    def _describe(self) -> dict[str, Any]:
        return {
            "path": str(self._path),
            "channels": self._channels,
            "time_column": self._time_column,
            "sampling_rate_hz": self._sampling_rate_hz,
        }

    def _read(self) -> tuple[Any, pd.DataFrame]:
        return read_recordings_folder(self._path, self._channels, self._time_column, self._sampling_rate_hz)

    def _exists(self) -> bool:
        return (self._path / SUBJECTS_FILE).is_file() and (self._path / RECORDINGS_DIR).is_dir()


class NoSourceDataset(AbstractDataset[None, None]):
    """Placeholder source for the synthetic default: loads ``None`` (a node generates the cohort).

    Args:
        metadata: Free-form Kedro metadata (unused).
    """

    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        self.metadata = metadata

    def _load(self) -> None:
        return None

    def _save(self, data: Any) -> NoReturn:
        raise DatasetError("NoSourceDataset is read-only: it stands for 'no external data source'")

    def _describe(self) -> dict[str, Any]:
        return {}

    def _exists(self) -> bool:
        return True
