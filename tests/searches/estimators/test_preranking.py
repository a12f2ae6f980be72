import csv
import gzip
import random

import pytest
import torch
from django.core.management import CommandError, call_command

from searches.benchmarks.nb201 import Nb201Table
from searches.estimators import proxy_benchmark
from searches.estimators.preranking import minibatch, prerank, score_archs
from searches.estimators.proxy_benchmark import proxy_correlations, sample_cells, spearman
from searches.estimators.zero_cost import compute_proxy, random_batch
from searches.spaces.chain_mlp import ChainMLPSpace
from searches.spaces.nb201 import NB201Space
from searches.spaces.nb201_cell import arch_to_string, string_to_arch
from searches.training.datasets import load_builtin

torch.set_num_threads(1)

SPACE = ChainMLPSpace({"min_depth": 1, "max_depth": 2, "widths": [4, 16, 64], "activations": ["relu"],
                       "dropouts": [0.0], "norms": ["none"]})


def candidates(n=12, seed=0):
    rng = random.Random(seed)
    return [SPACE.sample(rng) for _ in range(n)]


def test_prerank_returns_the_k_best_scores_best_first():
    archs = candidates()
    x, y = random_batch((10,), 3, batch=16)
    scores = score_archs(SPACE, archs, "synflow", x, y, 3)
    top = prerank(SPACE, archs, "synflow", k=4, x=x, y=y, num_classes=3)
    assert [r.score for r in top] == sorted(scores, reverse=True)[:4]
    assert all(r.arch in archs for r in top)


def test_prerank_scores_match_compute_proxy_on_a_seeded_model():
    arch = candidates(1)[0]
    x, y = random_batch((10,), 3, batch=8)
    torch.manual_seed(7)
    model = SPACE.to_torch(arch, (10,), 3)
    assert score_archs(SPACE, [arch], "snip", x, y, 3, seed=7) == [compute_proxy("snip", model, x, y, seed=7)]


def test_synflow_prerank_picks_the_widest_network():
    archs = [SPACE.to_arch({**SPACE.complete({}), "depth": 2, "width_1": w, "width_2": w}) for w in (4, 16, 64)]
    top = prerank(SPACE, archs, "synflow", k=1, input_shape=(10,), num_classes=3)
    assert top[0].arch["width_1"] == 64


def test_prerank_is_deterministic_and_takes_a_random_batch_from_a_shape():
    archs = candidates()
    first = prerank(SPACE, archs, "naswot", k=5, input_shape=(10,), num_classes=3, seed=1)
    again = prerank(SPACE, archs, "naswot", k=5, input_shape=(10,), num_classes=3, seed=1)
    assert first == again and len(first) == 5
    assert len(prerank(SPACE, archs, "params", k=100, input_shape=(10,), num_classes=3)) == len(archs)


def test_prerank_arguments_are_checked():
    with pytest.raises(ValueError, match="k must be at least 1"):
        prerank(SPACE, candidates(), "params", k=0, input_shape=(10,))
    with pytest.raises(ValueError, match="minibatch"):
        prerank(SPACE, candidates(), "params", k=2)


def test_minibatch_from_a_dataset():
    data = load_builtin("wine", 0)
    x, y = minibatch(data, batch=16, seed=2)
    assert x.shape == (16, 13) and y.shape == (16,)
    assert torch.equal(x, minibatch(data, batch=16, seed=2)[0])
    wine_space = ChainMLPSpace()
    assert prerank(wine_space, [wine_space.sample(random.Random(0))], "grad_norm", k=1, x=x, y=y,
                   num_classes=3)[0].score > 0


# --- the NAS-Bench-201 proxy check ----------------------------------------------------------------
def small_table(tmp_path, cells=8):
    space = NB201Space()
    rng = random.Random(0)
    path = tmp_path / "nb201.csv.gz"
    with gzip.open(path, "wt", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "arch", "valid_acc", "test_acc"])
        for i in range(cells):
            writer.writerow([i, arch_to_string(space.sample(rng)), 80 + i, 81 + i])
    return path


def test_proxy_correlations_on_a_small_table(tmp_path):
    table = Nb201Table.load(small_table(tmp_path))
    rows = sample_cells(table, 6, seed=0)
    space = NB201Space({"C": 2, "N": 1})
    check = proxy_correlations(rows, ["params", "decoder_params"], space, batch=4)
    results = {r.proxy: r for r in check.correlations}
    params = results["params"]
    assert params.cells == 6 and -1 <= params.rho <= 1 and check.seconds >= check.build_seconds > 0
    assert check.cpu_seconds > 0  # this process's CPU time while scoring (no workers here)
    expected = [sum(p.numel() for p in space.to_torch(string_to_arch(r.arch), (3, 32, 32), 10).parameters())
                for r in rows]
    assert params.rho == pytest.approx(spearman(expected, [r.test_acc for r in rows]))
    assert "transformers" in results["decoder_params"].not_applicable


def test_sample_cells_checks_the_count(tmp_path):
    table = Nb201Table.load(small_table(tmp_path))
    assert sample_cells(table, 5, 1) == sample_cells(table, 5, 1)
    with pytest.raises(ValueError, match="samples must be from 2 to 8"):
        sample_cells(table, 9, 0)


def test_the_management_command_prints_each_proxy(tmp_path, capsys):
    call_command("nas_proxy_check", proxy="all", samples=3, seed=0, batch=4, C=2, N=1,
                 table=str(small_table(tmp_path)))
    out = capsys.readouterr().out
    assert "3 NAS-Bench-201 cells (seed 0)" in out and "(4, 3, 32, 32)" in out
    assert "crops of scikit-learn's sample photos" in out and "labels from the image content" in out
    for name in ("synflow", "snip", "grad_norm", "fisher", "grasp", "jacob_cov", "naswot", "params", "flops"):
        assert any(line.startswith(name) and line.split()[1].lstrip("-").replace(".", "").isdigit()
                   for line in out.splitlines())
    assert "decoder_params" in out and "n/a" in out
    assert any(line.startswith("CPU ") for line in out.split("; "))  # the load-independent figure
    assert any(line.startswith("snip") and line.split()[2] == "0.596" for line in out.splitlines())


def test_proxy_correlations_score_each_cell_once_for_all_proxies(tmp_path, monkeypatch):
    table = Nb201Table.load(small_table(tmp_path))
    rows = sample_cells(table, 4, seed=0)
    space = NB201Space({"C": 2, "N": 1})
    calls = []
    real = proxy_benchmark.compute_proxies
    monkeypatch.setattr(proxy_benchmark, "compute_proxies",
                        lambda names, *a, **k: calls.append(names) or real(names, *a, **k))
    check = proxy_correlations(rows, ["snip", "naswot", "synflow"], space, batch=4)
    assert len(calls) == 4 and all(names == ["snip", "naswot", "synflow"] for names in calls)
    assert all(r.cells == 4 for r in check.correlations)


def test_the_management_command_rejects_bad_input_with_a_message(tmp_path):
    with pytest.raises(CommandError, match="noise has no content"):
        call_command("nas_proxy_check", proxy="snip", samples=3, batch=4, C=2, N=1, inputs="noise",
                     table=str(small_table(tmp_path)))
    with pytest.raises(CommandError, match="unknown proxy 'magic'"):
        call_command("nas_proxy_check", proxy="snip,magic", samples=3, batch=4, C=2, N=1,
                     table=str(small_table(tmp_path)))


@pytest.mark.integration  # spawns two worker processes that import torch: a minute on a busy machine
def test_proxy_correlations_in_worker_processes_give_the_same_scores(tmp_path):
    table = Nb201Table.load(small_table(tmp_path))
    rows = sample_cells(table, 3, seed=0)
    space = NB201Space({"C": 2, "N": 1})
    alone = proxy_correlations(rows, ["snip", "params", "decoder_params"], space, batch=4)
    shared = proxy_correlations(rows, ["snip", "params", "decoder_params"], space, batch=4, workers=2)
    assert [(r.scores, r.rho, r.not_applicable) for r in shared.correlations] == \
        [(r.scores, r.rho, r.not_applicable) for r in alone.correlations]
    assert len(shared.correlations[0].scores) == 3 and shared.correlations[2].not_applicable
