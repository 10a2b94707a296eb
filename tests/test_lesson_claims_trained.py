"""Every lesson's claim on one seed that no set-up was tuned on, with the lessons' real set-ups
and step counts (the same code as `python -m playground.lessons`): minutes on one CPU thread.
The lessons run in catalogue order in one process, so a training two claims share (lesson 1's
ring run: lessons 1, 4 and 7) is trained once."""

from __future__ import annotations

import pytest
import torch

from playground.lessons import claims
from playground.lessons.catalogue import TUNING_SEEDS

pytestmark = pytest.mark.claims
SEED = 0


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One thread, as the claims were measured; the shared trainings go at the end."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    claims._OUTCOMES.clear()


def test_the_seed_was_not_used_for_tuning():
    assert SEED not in TUNING_SEEDS


@pytest.mark.parametrize("key", list(claims.SEEDLESS))
def test_a_claims_seedless_part_holds(key):
    result = claims.SEEDLESS[key]()
    assert result.holds, result.detail


@pytest.mark.parametrize("key", list(claims.CLAIMS))
def test_each_claim_holds_on_an_untuned_seed(key):
    result = claims.CLAIMS[key](SEED)
    assert result.seed == SEED
    assert result.holds, f"lesson {key}, seed {SEED}: {result.detail}"
