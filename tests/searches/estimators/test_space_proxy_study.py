import math

import pytest
import torch

from searches.estimators.space_proxy_study import (
    StudyError,
    accuracy_spread,
    sample_archs,
    spread_notes,
    study_space,
)
from searches.estimators.zero_cost import PROXIES
from searches.spaces.hybrid import HybridSpace

torch.set_num_threads(1)

TINY_HYBRID = {"conv_widths": [4], "conv_kernels": [3], "max_conv_depth": 1, "attention_widths": [8],
               "max_attention_depth": 1, "heads": [1, 2], "mlp_ratios": [1.0, 2.0]}
TINY_TRANSFORMER = {"max_depth": 2, "embed_dims": [8], "heads": [1, 2], "mlp_ratios": [1.0]}


def check_shape_and_scores(study, archs):
    assert len(study.outcomes) == archs
    assert [f.proxy for f in study.figures] == list(PROXIES)
    for outcome in study.outcomes:
        assert 0.0 <= outcome.val_accuracy <= 1.0
        assert set(outcome.scores) == set(PROXIES)
        for score in outcome.scores.values():
            assert (isinstance(score, str) and score) or (isinstance(score, float) and not math.isnan(score))
    return {f.proxy: f for f in study.figures}


def test_every_proxy_scores_four_tiny_hybrids():
    study = study_space("hybrid-digits", archs=4, epochs=1, seed=0, spec=TINY_HYBRID, batch=16, data_fraction=0.2)
    figures = check_shape_and_scores(study, 4)
    for figure in figures.values():
        assert not figure.not_applicable, figure
        assert figure.archs == 4
        assert math.isnan(figure.rho) or -1.0 <= figure.rho <= 1.0
    assert study.spread.low <= study.spread.median <= study.spread.high


def test_jacob_cov_is_not_applicable_to_token_ids_and_the_rest_score():
    study = study_space("transformer-parity", archs=4, epochs=1, seed=0, spec=TINY_TRANSFORMER, batch=16,
                        data_fraction=0.2)
    figures = check_shape_and_scores(study, 4)
    assert "token ids have no jacobian" in figures["jacob_cov"].not_applicable
    assert figures["jacob_cov"].rho is None
    assert all(not f.not_applicable for name, f in figures.items() if name != "jacob_cov")


def test_flat_accuracies_at_chance_are_called_meaningless():
    labels = torch.tensor([0] * 60 + [1] * 40)
    notes = spread_notes(accuracy_spread([0.60, 0.61, 0.60, 0.605], labels))
    assert len(notes) == 2 and "rank noise" in notes[0] and "nothing was learned" in notes[1]
    assert spread_notes(accuracy_spread([0.70, 0.95, 0.85], labels)) == []
    (most_at_chance,) = spread_notes(accuracy_spread([0.60, 0.61, 0.62, 0.90], labels))
    assert "the few that learned something decide" in most_at_chance


def test_sampled_architectures_are_distinct_and_bad_requests_say_why():
    space = HybridSpace(TINY_HYBRID)
    archs = sample_archs(space, space.size(), seed=3)
    assert len({space.key(a) for a in archs}) == space.size()
    with pytest.raises(StudyError, match="only 4 architectures"):
        sample_archs(space, 5, seed=0)
    with pytest.raises(StudyError, match="unknown study task"):
        study_space("mlp-wine", archs=4)
    with pytest.raises(StudyError, match="epochs must be at least 1"):
        study_space("hybrid-digits", archs=4, epochs=0)
