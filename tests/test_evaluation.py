"""Live measures: computed every `eval_every` steps, kept in a bounded series, carried by the
run's snapshot and by checkpoints, and never able to end a run."""

from __future__ import annotations

import json

import pytest

from playground.errors import ConfigError
from playground.measures import evaluation
from playground.measures.evaluation import MeasureSeries
from playground.runs.runner import Run
from playground.settings.config import GANConfig
from playground.storage.checkpoints import load_checkpoint, save_checkpoint


def test_eval_every_is_validated():
    assert GANConfig(eval_every=0).validate().eval_every == 0
    assert GANConfig().eval_every == 500
    with pytest.raises(ConfigError, match="eval_every"):
        GANConfig(eval_every=-1).validate()
    assert GANConfig().with_strings({"eval_every": "100"}).eval_every == 100


def test_series_is_bounded_and_keeps_the_latest_and_the_whole_span():
    series = MeasureSeries(capacity=10)
    for step in range(1, 101):
        series.append({"step": step, "modes_held": step % 8})
    steps = [r["step"] for r in series.records]
    assert len(steps) <= 10
    assert steps[-1] == 100 and steps[0] <= 20
    assert steps == sorted(steps)


def test_series_replaces_a_record_of_the_same_step():
    series = MeasureSeries()
    series.append({"step": 5, "modes_held": 1})
    series.append({"step": 5, "modes_held": 2})
    assert series.copy() == [{"step": 5, "modes_held": 2}]


def test_series_state_round_trip_and_malformed_state():
    series = MeasureSeries()
    series.append({"step": 1, "reverse_kl": 0.5, "mode_counts": [1, 2]})
    again = MeasureSeries()
    again.load(series.state())
    assert again.copy() == series.copy()
    with pytest.raises(ValueError):
        again.load({"records": [{"no_step": 1}]})
    with pytest.raises(ValueError):
        again.load({"records": "nope"})
    for bad in (
        {"step": -1},
        {"step": 1.5},
        {"step": 1, "modes_held": "many"},
        {"step": 1, "reverse_kl": float("nan")},
        {"step": 1, "mode_counts": [1, -2]},
        {"step": 1, "mode_counts": [[1]]},
    ):
        with pytest.raises(ValueError):
            again.load({"records": [bad]})


def test_trainer_measures_every_eval_every_steps(tiny_cfg, make_trainer):
    trainer = make_trainer(tiny_cfg(eval_every=4, steps=10))
    for _ in range(10):
        trainer.train_step()
    records = trainer.measures.copy()
    assert [r["step"] for r in records] == [4, 8]
    first = records[0]
    assert first["modes_total"] == 8 and len(first["mode_counts"]) == 8
    assert first["samples"] == evaluation.LIVE_SAMPLES["points"]
    assert trainer.measures.seconds > 0


def test_eval_every_zero_measures_nothing(tiny_cfg, make_trainer):
    trainer = make_trainer(tiny_cfg(eval_every=0))
    for _ in range(5):
        trainer.train_step()
    assert len(trainer.measures) == 0 and trainer.evaluator is None


def test_live_measures_on_the_same_noise_are_reproducible(tiny_cfg, make_trainer):
    trainer = make_trainer(tiny_cfg(eval_every=0))
    assert trainer.evaluate() == trainer.evaluate()


def test_a_failing_measure_stops_measuring_but_not_training(tiny_cfg, make_trainer, monkeypatch):
    trainer = make_trainer(tiny_cfg(eval_every=2, steps=6))

    def broken(samples):
        raise RuntimeError("boom")

    evaluation.evaluator_for(trainer).measure = broken
    for _ in range(6):
        trainer.train_step()
    assert trainer.step == 6
    assert "boom" in trainer.measures.error
    assert len(trainer.measures) == 0


def test_image_runs_measure_classes(tiny_image_cfg, make_trainer, monkeypatch, tmp_path):
    # 28 px digits have no shipped classifier: a quick one is trained into a temporary folder.
    from playground.measures import classifier

    monkeypatch.setenv("GAN_PLAYGROUND_CLASSIFIERS", str(tmp_path))
    monkeypatch.setattr(classifier, "MAX_STEPS", 20)
    from helpers import wait_for

    trainer = make_trainer(tiny_image_cfg(eval_every=2, steps=4))
    for _ in range(2):
        trainer.train_step()  # the first evaluation starts the classifier's training
    wait_for(
        lambda: not classifier.training_in_background("digits", trainer.data),
        "the classifier's background training",
    )
    for _ in range(2):
        trainer.train_step()
    last = trainer.measures.copy()[-1]
    assert json.loads(json.dumps(last)) == last  # stored in checkpoint.json as is
    assert last["step"] == 4 and last["samples"] == evaluation.LIVE_SAMPLES["images"]
    for key in (
        "fid",
        "kid",
        "inception_score",
        "classes_covered",
        "class_histogram",
        "precision",
        "recall",
        "density",
        "coverage",
        "diversity_ratio",
        "duplicate_rate",
        "reverse_kl",
    ):
        assert key in last, key


def test_snapshot_and_checkpoint_carry_the_measures(tiny_cfg, make_trainer, tmp_path):
    trainer = make_trainer(tiny_cfg(eval_every=5, steps=10))
    run = Run(trainer=trainer)
    run.start()
    assert run.join(60)
    snap = run.snapshot()
    assert [r["step"] for r in snap.measures] == [5, 10]
    save_checkpoint(trainer, tmp_path / "ck")
    loaded = load_checkpoint(tmp_path / "ck")
    assert loaded.measures.copy() == trainer.measures.copy()


def test_checkpoints_without_measures_still_load(tiny_cfg, make_trainer, tmp_path):
    import json

    trainer = make_trainer(tiny_cfg())
    save_checkpoint(trainer, tmp_path / "old")
    meta_path = tmp_path / "old" / "checkpoint.json"
    meta = json.loads(meta_path.read_text())
    del meta["measures"]
    meta_path.write_text(json.dumps(meta))
    assert len(load_checkpoint(tmp_path / "old").measures) == 0


def test_a_missing_classifier_trains_in_the_background_without_stalling_the_run(
    tiny_image_cfg, make_trainer, monkeypatch, tmp_path
):
    """The first evaluation of a labelled dataset without a stored classifier used to train it
    inside train_step, under the run's step lock: the run (and Save, Explore) froze until the
    classifier was done. Now the step returns at once and the class measures follow later."""
    import threading

    from helpers import wait_for

    from playground.measures import classifier

    monkeypatch.setenv("GAN_PLAYGROUND_CLASSIFIERS", str(tmp_path))  # nothing stored at 28 px
    release = threading.Event()
    real_training = classifier.train_classifier

    def slow_training(data, dataset, *args, **kwargs):
        release.wait(120)  # as long as the test wants: a classifier takes minutes on MNIST
        return real_training(data, dataset, steps=20)

    monkeypatch.setattr(classifier, "train_classifier", slow_training)
    trainer = make_trainer(tiny_image_cfg(eval_every=1, steps=4))
    stepped = threading.Event()

    def step_twice():
        trainer.train_step()
        trainer.train_step()
        stepped.set()

    worker = threading.Thread(target=step_twice, daemon=True)
    worker.start()
    try:
        assert stepped.wait(60), "train_step waited for the classifier"
        assert trainer.step == 2
        last = trainer.measures.copy()[-1]
        assert last["step"] == 2 and "diversity_ratio" in last  # the other measures go on
        assert "classes_covered" not in last and "fid" not in last
        assert "classifier" in trainer.measures.note
    finally:
        release.set()
        worker.join(60)
    wait_for(lambda: (tmp_path / "digits-28-1.json").is_file(), "the classifier to be stored")
    wait_for(
        lambda: not classifier.training_in_background("digits", trainer.data),
        "the background training to end",
    )
    trainer.train_step()
    last = trainer.measures.copy()[-1]
    assert last["step"] == 3
    for key in ("classes_covered", "precision", "fid", "kid", "inception_score"):
        assert key in last, key
    assert trainer.measures.note is None
