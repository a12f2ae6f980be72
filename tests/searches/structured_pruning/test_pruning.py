import copy

import pytest
import torch

from searches.checks import SpecError
from searches.spaces.nb201 import NB201Space
from searches.structured_pruning import PrunedSpace, learn_gates, prune_model, run_pruning_search
from searches.structured_pruning.search import cost_function
from searches.structured_pruning.transplant import hidden_layers, recalibrate_batch_norm
from searches.training.trainer import TrainConfig, evaluate


def test_the_pruned_space_holds_the_sub_architectures(mlp_space, trained_arch):
    space = PrunedSpace(mlp_space, trained_arch)
    assert space.decision("width_1").choices == (8, 16, 24, 32)
    assert space.decision("width_2").choices == (8, 16, 24)
    assert space.decision("depth").choices == (1, 2)
    assert space.decision("norm").choices == ("batch",)
    archs = list(space.enumerate())
    assert len(archs) == space.size() == 4 * 3 + 4  # depth 2: 4 x 3 widths; depth 1: 4
    for arch in archs:
        mlp_space.validate_arch(arch)
    with pytest.raises(SpecError, match="is not one of"):
        space.validate_arch({**trained_arch, "width_2": 32})


def test_spaces_without_pruning_are_refused():
    space = NB201Space({"C": 4, "N": 1})
    with pytest.raises(SpecError, match="not available for the 'nb201' space") as exc:
        PrunedSpace(space, space.sample(__import__("random").Random(0)))
    assert exc.value.field == "space"


def test_keeping_every_unit_is_the_trained_model(mlp_space, trained_arch, trained, small_digits):
    same = prune_model(trained, mlp_space, trained_arch, trained_arch, small_digits.input_shape,
                       small_digits.num_classes)
    trained.eval(), same.eval()
    with torch.no_grad():
        assert torch.allclose(same(small_digits.x_val), trained(small_digits.x_val), atol=1e-6)


def test_units_are_kept_by_l1_norm_and_dead_units_go_first(mlp_space, trained_arch, trained, small_digits):
    model = copy.deepcopy(trained)
    linears, norms, head = hidden_layers(model)
    dead = [1, 5, 9, 13, 17, 21, 25, 29]  # 8 of the 32 first-layer units contribute nothing
    with torch.no_grad():
        linears[0].weight[dead] = 0.0
        linears[0].bias[dead] = 0.0
        norms[0].weight[dead] = 0.0
        norms[0].bias[dead] = 0.0
        linears[1].weight[:, dead] = 0.0
    smaller = {**trained_arch, "width_1": 24}
    pruned = prune_model(model, mlp_space, trained_arch, smaller, small_digits.input_shape, small_digits.num_classes)
    kept = [i for i in range(32) if i not in dead]
    assert torch.equal(hidden_layers(pruned)[0][0].weight, linears[0].weight[kept])
    model.eval(), pruned.eval()
    with torch.no_grad():  # pruning units that contribute nothing changes no output
        assert torch.allclose(pruned(small_digits.x_val), model(small_digits.x_val), atol=1e-5)


def test_a_pruned_model_is_an_ordinary_model_of_its_architecture(mlp_space, trained_arch, trained, small_digits):
    smaller = {**trained_arch, "width_1": 16, "width_2": 8}
    pruned = prune_model(trained, mlp_space, trained_arch, smaller, small_digits.input_shape, small_digits.num_classes)
    state = {k: v.clone() for k, v in pruned.state_dict().items()}
    rebuilt = mlp_space.to_torch(smaller, small_digits.input_shape, small_digits.num_classes)
    rebuilt.load_state_dict(state)  # strict: the same keys and shapes
    pruned.eval(), rebuilt.eval()
    with torch.no_grad():
        assert torch.equal(rebuilt(small_digits.x_val), pruned(small_digits.x_val))


def test_a_shallower_model_keeps_its_first_layers(mlp_space, trained_arch, trained, small_digits):
    shallow = {"depth": 1, "width_1": 16, "activation": "relu", "dropout": 0.0, "norm": "batch"}
    pruned = prune_model(trained, mlp_space, trained_arch, shallow, small_digits.input_shape, small_digits.num_classes)
    first = hidden_layers(pruned)[0][0]
    source = hidden_layers(trained)[0][0]
    assert all(any(torch.equal(row, s) for s in source.weight) for row in first.weight)


@pytest.mark.parametrize("strategy", ["evolution", "gp_bo"])
def test_a_strategy_searches_widths_under_a_params_budget(mlp_space, trained_arch, trained, small_digits, strategy):
    limit = 1200
    seen = []
    candidates = run_pruning_search(trained, mlp_space, trained_arch, small_digits, {"metric": "params", "max": limit},
                                    strategy=strategy, trials=3, finetune=TrainConfig(epochs=1, seed=0),
                                    on_candidate=seen.append)
    assert len(candidates) == 3 and seen == candidates
    assert len({mlp_space.key(c.arch) for c in candidates}) == 3
    for c in candidates:
        assert c.params == c.cost <= limit
        assert 0 <= c.pruned_val_accuracy <= 1 and 0 <= c.val_accuracy <= 1
    before = {k: v.clone() for k, v in trained.state_dict().items()}
    assert all(torch.equal(before[k], v) for k, v in trained.state_dict().items())  # the trained model is kept


def test_a_budget_nothing_fits_is_refused(mlp_space, trained_arch, trained, small_digits):
    with pytest.raises(SpecError, match="over the budget"):
        run_pruning_search(trained, mlp_space, trained_arch, small_digits, {"metric": "params", "max": 10})
    with pytest.raises(SpecError, match="unknown budget metric"):
        run_pruning_search(trained, mlp_space, trained_arch, small_digits, {"metric": "joules", "max": 10})


def test_learned_gates_fit_the_budget_and_keep_the_open_units(mlp_space, trained_arch, trained, small_digits):
    model = copy.deepcopy(trained)
    cost = cost_function(mlp_space, "params", small_digits.input_shape, small_digits.num_classes)
    limit = 0.5 * cost(trained_arch)
    arch, gates = learn_gates(model, mlp_space, trained_arch, small_digits, "params", limit, epochs=3,
                              gate_lr=0.2, cost_of=cost)
    assert cost(arch) <= limit < cost(trained_arch)
    assert [len(g) for g in gates] == [32, 24] and all(((g > 0) & (g < 1)).all() for g in gates)
    loose, _ = learn_gates(copy.deepcopy(trained), mlp_space, trained_arch, small_digits, "params",
                           10 * cost(trained_arch), epochs=1, cost_of=cost)
    assert loose == trained_arch  # no pressure: every gate stays open


def test_the_gates_variant_records_one_fine_tuned_candidate(mlp_space, trained_arch, trained, small_digits):
    cost = cost_function(mlp_space, "macs", small_digits.input_shape, small_digits.num_classes)
    limit = 0.6 * cost(trained_arch)
    [candidate] = run_pruning_search(trained, mlp_space, trained_arch, small_digits, {"metric": "macs", "max": limit},
                                     strategy="gates", finetune=TrainConfig(epochs=1, seed=0), keep_models=True)
    assert candidate.macs <= limit
    _, accuracy = evaluate(candidate.model, small_digits.x_val, small_digits.y_val, "cpu")
    assert accuracy == pytest.approx(candidate.val_accuracy, abs=0.05)


def test_batch_norm_statistics_are_re_estimated_after_pruning(mlp_space, trained_arch, trained, small_digits):
    smaller = {**trained_arch, "width_1": 8}
    pruned = prune_model(trained, mlp_space, trained_arch, smaller, small_digits.input_shape, small_digits.num_classes)
    linears, norms, _ = hidden_layers(pruned)
    recalibrate_batch_norm(pruned, small_digits.x_train)
    with torch.no_grad():
        second_inputs = linears[1](torch.relu(norms[0](linears[0](small_digits.x_train.flatten(1)))))
    assert torch.allclose(norms[1].running_mean, second_inputs.mean(0), atol=1e-4)
    assert pruned.training  # the mode is restored
