"""``python -m llm.launch``: llm.train on several processes with llm.train's exits and lines.

Under ``torchrun`` a refusal printed by one rank was followed by the other rank's lost-connection
traceback and the launcher's own ``ChildFailedError`` traceback, exit 1 (issue 28); the launcher
checks the options once before any process starts, and exits as the run did.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import TINY_ARGV, assert_user_error, call, refused, stage_argv, without

from llm.launch import main as launch_main

MISSING = ["--data-path", "/nonexistent/x.jsonl"]


@pytest.mark.parametrize(("args", "words"), [
    ([], ("--nproc-per-node",)),
    (["--nproc-per-node", "0"], ("give 1 or more",)),
    (["--nproc-per-node", "2", "--beta", "-1"], ("beta",)),
    (["--nproc-per-node", "2", "--loss", "dpo", "--f", "js"], ("--f js is ignored",)),
    (["--nproc-per-node", "2", "--sft-batch-size", "3"],
     ("--sft-batch-size 3 does not divide over the 2 processes",)),
    (["--nproc-per-node", "4096"], ("--nproc-per-node 4096 but this machine has", "CPUs")),
    (["--nproc_per_node", "1", "--fsdp"], ("--fsdp", "--nproc-per-node 2 or more")),
    (["--nproc-per-node", "2", *MISSING], ("x.jsonl",)),
])
def test_a_refusal_comes_once_before_any_process_starts(capsys, tmp_path, args, words):
    tiny = without(TINY_ARGV, tuple(a for a in args if a.startswith("--")))  # args replace
    result = call(launch_main, [*tiny, *args, "--out-dir", tmp_path / "runs"], capsys)
    assert_user_error(result, *words)
    assert "python -m llm.launch: error:" in result[2]
    assert not (tmp_path / "runs").exists()


def launch(*argv) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "llm.launch", "--nproc-per-node", "2",
                           *map(str, argv)], capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.slow
def test_a_refusal_on_the_main_rank_is_one_line_and_the_runs_exit(tmp_path):
    """The run folder holds a user's file: the main rank refuses it, the other stops silently
    (before, it died at the next barrier with a lost-connection traceback), and the launcher
    exits 2 as llm.train does, without torchrun's ChildFailedError traceback."""
    folder = tmp_path / "runs" / "r"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    result = launch(*stage_argv(TINY_ARGV, "sft"), "--out-dir", tmp_path / "runs",
                    "--run-name", "r")
    refused((result.returncode, result.stdout, result.stderr), "is not a run folder")
    assert "rank" not in result.stderr and "ChildFailedError" not in result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    assert (folder / "notes.txt").read_text() == "mine"


@pytest.mark.slow
def test_a_two_process_run_trains_and_exits_0(tmp_path):
    result = launch(*stage_argv(TINY_ARGV, "sft"), "--out-dir", tmp_path / "runs",
                    "--run-name", "r")
    assert result.returncode == 0, result.stderr[-2000:]
    assert (Path(tmp_path) / "runs" / "r" / "sft" / "config.json").is_file()
    assert "Traceback" not in result.stderr
