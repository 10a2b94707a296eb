"""The README's lesson table is generated: it must be exactly what the renderer makes of the
stored results (playground/lessons/claims.json), so a hand edit fails; and those results must be
of every claim as it reads now, on seeds that no set-up was tuned on."""

from __future__ import annotations

import json

from playground.lessons import catalogue, claims


def _stored() -> dict:
    return json.loads(claims.RESULTS.read_text(encoding="utf-8"))


def test_the_readme_table_is_the_one_rendered_from_the_stored_results():
    readme = claims.README.read_text(encoding="utf-8")
    assert readme.count(claims.TABLE_START) == 1 and readme.count(claims.TABLE_END) == 1
    start = readme.index(claims.TABLE_START)
    block = readme[start : readme.index(claims.TABLE_END) + len(claims.TABLE_END)]
    assert block == claims.readme_table(_stored()), (
        "the README's lesson table differs from the stored results: run "
        "`python -m playground.lessons --render-readme` (or measure them again)"
    )


def test_the_stored_results_are_of_every_claim_as_it_reads_now_on_untuned_seeds():
    stored = _stored()
    assert list(stored["lessons"]) == list(claims.CLAIMS)
    assert stored["tuning_seeds"] == list(catalogue.TUNING_SEEDS)
    assert not set(stored["seeds"]) & set(catalogue.TUNING_SEEDS)
    for key, lesson in stored["lessons"].items():
        assert lesson["claim"] == catalogue.BY_KEY[key].claim, f"{key}: measure it again"
        seeds = [r["seed"] for r in lesson["results"] if r["seed"] is not None]
        assert seeds == stored["seeds"], key
        assert sum(r["seed"] is None for r in lesson["results"]) == (key in claims.SEEDLESS)
