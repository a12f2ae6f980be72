"""The nas_benchmark management command; it reads a CSV and never touches the database."""

import itertools
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from searches.spaces.nb201_cell import EDGE_NAMES, arch_to_string
from searches.strategies.registry import STRATEGIES

OPS = ("none", "skip_connect", "nor_conv_3x3")


def write_table(path, columns=("arch", "valid_acc", "test_acc")):
    """Every cell over three ops, with accuracies that grow with the number of 3x3 convs."""
    lines = [",".join(columns)]
    for ops in itertools.product(OPS, repeat=6):
        arch = arch_to_string(dict(zip(EDGE_NAMES, ops, strict=True)))
        convs = ops.count("nor_conv_3x3")
        values = {"arch": arch, "valid_acc": f"{80 + convs:.1f}", "test_acc": f"{85 + convs:.1f}"}
        lines.append(",".join(values[c] for c in columns))
    path.write_text("\n".join(lines) + "\n")
    return path


def run(**options):
    out = StringIO()
    call_command("nas_benchmark", stdout=out, workers=1, **options)
    return out.getvalue()


def test_prints_one_line_per_strategy_with_mean_sd_and_seconds(tmp_path):
    output = run(table=str(write_table(tmp_path / "t.csv")), strategy="all", queries=25, seeds=2)
    lines = output.strip().splitlines()
    assert lines[0].startswith("729 cells; 2 seeds x 25 queries")
    pattern = re.compile(r"^(\w+)\s+test acc of best-valid cell: mean (\d+\.\d\d) sd (\d+\.\d\d) \((\d+\.\d) s\)$")
    rows = [pattern.match(line) for line in lines[1:]]
    assert all(rows), lines
    assert [m.group(1) for m in rows] == list(STRATEGIES)
    for m in rows:
        assert 85.0 <= float(m.group(2)) <= 91.0


def test_one_strategy(tmp_path):
    output = run(table=str(write_table(tmp_path / "t.csv")), strategy="grid", queries=729, seeds=1)
    assert "grid          test acc of best-valid cell: mean 91.00 sd 0.00" in output  # exhausts: finds the top


def test_missing_file(tmp_path):
    with pytest.raises(CommandError, match="no table file"):
        run(table=str(tmp_path / "nope.csv"))


def test_missing_column(tmp_path):
    path = write_table(tmp_path / "t.csv", columns=("arch", "valid_acc"))
    with pytest.raises(CommandError, match="test_acc"):
        run(table=str(path))


def test_unknown_strategy_and_bad_counts(tmp_path):
    path = str(write_table(tmp_path / "t.csv"))
    with pytest.raises(CommandError, match="unknown strategy"):
        run(table=path, strategy="annealing")
    with pytest.raises(CommandError, match="--queries"):
        run(table=path, queries=0)
