"""An experiment that spans machines: the records of its finished runs, kept where its run
folders may not survive (``python -m llm.experiment --records DIR``).

A run's *record* is what the experiment's results are made of, without the weights:
``config.json``, ``metrics.jsonl``, ``summary.json`` and ``truth.json``. Records are kept by
*unit*, each as soon as it is whole: the learning-rate selection (the selection seeds' SFT
models and every selection run), then each seed (its SFT model and every run of the seed). A
unit is kept only whole because a seed's runs share its SFT model, π_ref, which a record does
not hold: a seed cut short on one machine is run again whole on the next, so every comparison
within a seed is between runs from one π_ref. At the start of a command the records in ``DIR``
are put back into ``--out-dir`` as finished runs (``summary.json`` makes a run finished), and
the sweep goes on with the units that are missing.

``DIR/units.json`` lists each unit: its runs, the SHA-256 of every file of their records, and
the software and machine that made it. It is written last, so a unit it lists is whole; a
record file that does not match it is refused, as is a record made with settings other than
this command's (the rule of a ``--resume``, :func:`llm.engine.run_folder.changed_settings`).
Records are data: JSON and JSON lines, read by a parser, never unpickled.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from upo_theory import UserError, parse_json
from upo_theory.cli import check_writable, write_atomically

from ..engine.atomic import refuse_link
from ..engine.run_folder import CONFIG, MARKER, changed_settings, finished

if TYPE_CHECKING:  # the sweep imports this module
    import llm.experiments.sweep

RECORD_FILES = (CONFIG, "metrics.jsonl", "summary.json", "truth.json")
"""The files of a run's record (``truth.json`` where the run has one)."""
INDEX = "units.json"


class RecordsError(UserError):
    """Records that cannot be used: damaged, from other settings, or a folder that holds
    something else."""


@dataclass
class Records:
    """The records folder of an experiment and the units it holds (``units.json``)."""

    folder: Path
    units: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def open(cls, folder: str | Path) -> Records:
        """The records in ``folder`` (none yet when it is absent or empty); a folder that holds
        files but no ``units.json`` is a user's, and refused before anything is written."""
        folder = Path(folder)
        check_writable(folder, "--records", folder=True)
        index = folder / INDEX
        if not index.is_file():
            if folder.is_dir() and any(folder.iterdir()):
                raise RecordsError(f"--records {folder} holds files but no {INDEX}, so it is not "
                                   "a records folder; nothing was written: give another "
                                   "--records, or empty that folder")
            records = cls(folder)
            records._write_index()  # the folder is ours from now on, whatever stops us
            return records
        try:
            units = parse_json(index.read_text())["units"]
            if not isinstance(units, dict):
                raise TypeError("units is not an object")
        except (ValueError, KeyError, TypeError) as error:
            raise RecordsError(f"{index} is damaged ({error}); restore it from where the records "
                               "are kept (version control), or give another --records") from None
        return cls(folder, units)

    def restore(self, config: llm.experiments.sweep.ExperimentConfig) -> list[str]:
        """Put every kept unit's runs into ``config.out_dir`` as finished runs, after checking
        all of them (their files' hashes, and their settings against this command's); returns
        the restored units. A run already finished there must be the same run, file for file;
        an unfinished one of a kept unit is refused (it would mix two machines' π_ref)."""
        checked = [(unit, run, self._read(unit, run, config))
                   for unit, entry in self.units.items() for run in entry["runs"]]
        for unit, run, files in checked:
            target = config.out_dir / run
            if finished(target):
                differing = [name for name, data in files.items()
                             if not (target / name).is_file()
                             or (target / name).read_bytes() != data]
                if differing:
                    raise RecordsError(f"{target} is a finished run that differs from its record "
                                       f"in {self.folder} ({', '.join(differing)}): it was run "
                                       "again; give another --out-dir or --records")
            elif os.path.lexists(target):
                raise RecordsError(f"{target} holds an unfinished run of {unit}, whose finished "
                                   f"records are in {self.folder}: remove {target} (the records "
                                   "take its place), or give another --out-dir")
        for _, run, files in checked:
            target = config.out_dir / run
            if finished(target):
                continue
            target.mkdir(parents=True)
            write_atomically(target / MARKER, "1\n")
            # summary.json last: it says the run finished
            for name in sorted(files, key=lambda name: name == "summary.json"):
                write_atomically(target / name, files[name])
        return list(self.units)

    def _read(self, unit: str, run: str,
              config: llm.experiments.sweep.ExperimentConfig) -> dict[str, bytes]:
        """The record of ``run`` (its files' bytes), checked against ``units.json`` and, by its
        settings, against the run this command would make."""
        expected = self.units[unit]["files"]
        files = {}
        for name in RECORD_FILES:
            key = f"{run}/{name}"
            if key not in expected:
                continue
            path = self.folder / run / name
            try:
                data = path.read_bytes()
            except OSError as error:
                raise RecordsError(f"{path} of {unit} cannot be read ({error.strerror}); restore "
                                   "it from where the records are kept") from None
            if hashlib.sha256(data).hexdigest() != expected[key]:
                raise RecordsError(f"{path} of {unit} is not the file {self.folder / INDEX} "
                                   "lists (its SHA-256 differs); restore it from where the "
                                   "records are kept")
            files[name] = data
        if "summary.json" not in files or CONFIG not in files:
            raise RecordsError(f"{self.folder / INDEX} lists {run} of {unit} without its "
                               "config.json and summary.json; restore the records folder")
        saved = parse_json(files[CONFIG].decode())
        own = config.own_settings(saved)
        changed = changed_settings(_relative(saved, saved.get("out_dir")),
                                   _relative(own, own["out_dir"]))
        if changed:
            raise RecordsError(f"{self.folder / run} was made with other settings than this "
                               f"command's ({', '.join(changed)}): give the settings the records "
                               "were made with, or another --records")
        return files

    def keep(self, unit: str, runs: Sequence[str], out_dir: Path) -> None:
        """Keep the records of ``unit`` (its ``runs``, all finished in ``out_dir``) unless it is
        kept already; ``units.json`` is written last."""
        if unit in self.units:
            return
        files = {}
        for run in runs:
            refuse_link(self.folder / run)  # never a write through a planted folder link
            for name in RECORD_FILES:
                source = out_dir / run / name
                if source.is_file():
                    refuse_link(source)  # nor a user's file, by a link, into the records
                    files[f"{run}/{name}"] = source.read_bytes()
        for key, data in files.items():
            (self.folder / key).parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.folder / key, data)
        self.units[unit] = {"runs": list(runs), "made_with": made_with(), "files": {
            key: hashlib.sha256(data).hexdigest() for key, data in files.items()}}
        self._write_index()

    def _write_index(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomically(self.folder / INDEX, json.dumps(
            {"version": 1, "units": self.units}, indent=1, sort_keys=True) + "\n")

    def keep_whole(self, units: Iterable[tuple[str, Sequence[str]]], out_dir: Path) -> None:
        """Keep each of ``units`` whose runs have all finished."""
        for unit, runs in units:
            if all(finished(out_dir / run) for run in runs):
                self.keep(unit, runs, out_dir)


def _relative(settings: dict, out_dir: str | None) -> dict:
    """``settings`` with ``init`` (a path into the experiment's folder) written relative to it,
    so records made under another ``--out-dir`` compare equal."""
    init = settings.get("init")
    if out_dir and isinstance(init, str) and Path(init).is_relative_to(out_dir):
        return {**settings, "init": str(Path(init).relative_to(out_dir))}
    return settings


def made_with() -> dict[str, str]:
    """The software and machine a unit was made with (its runs' float rounding depends on
    them)."""
    import torch
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "machine": platform.machine(),
            "cpu": _cpu_name(), "platform": platform.platform(), "code": _commit()}


def _commit() -> str:
    """The git commit of this code (``+changes`` when its checkout differs from it), or
    ``unknown`` outside a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                                text=True, timeout=30, check=True).stdout.strip()
        changes = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                 cwd=here, capture_output=True, text=True, timeout=30,
                                 check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + "+changes" * bool(changes)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
