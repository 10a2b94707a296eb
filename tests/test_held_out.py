"""train_images: a run trains on a fixed draw of the dataset's images and the rest are held out
(lesson 8 watches D memorise its training digits against the held-out ones)."""

from __future__ import annotations

import pytest
import torch

from playground.data.loading import held_out, load_dataset
from playground.errors import ConfigError
from playground.settings.config import GANConfig


def digits(**changes) -> GANConfig:
    return GANConfig(dataset="digits", arch="dcgan", image_size=8, **changes).validate()


def as_rows(images: torch.Tensor) -> set[bytes]:
    return {img.numpy().tobytes() for img in images}


def test_a_run_trains_on_a_fixed_draw_and_the_rest_is_held_out():
    everything = load_dataset(digits())
    train = load_dataset(digits(train_images=200))
    rest = held_out(digits(train_images=200))
    assert len(train) == 200 and train.labels.shape == (200,)
    assert rest.shape == (len(everything) - 200, 1, 8, 8)
    # Together they are the whole set, image for image, and no image is in both.
    assert torch.equal(
        torch.cat([train.images, rest]).sum(0), everything.images.sum(0, dtype=torch.int64)
    )
    assert not as_rows(train.images) & as_rows(rest)
    # The same draw every time, whatever the run's seed.
    again = load_dataset(digits(train_images=200, seed=5))
    assert torch.equal(again.images, train.images)
    assert any("held out" in note for note in train.notes)


def test_zero_trains_on_every_image():
    assert len(load_dataset(digits(train_images=0))) == 1797


@pytest.mark.parametrize("bad", [-1, 10**8])
def test_out_of_range_counts_are_refused_naming_the_setting(bad):
    with pytest.raises(ConfigError, match="^train_images: must be an integer from 0"):
        digits(train_images=bad)


def test_points_cannot_hold_images_out():
    with pytest.raises(ConfigError, match="^train_images: holds out images only"):
        GANConfig(dataset="ring8", train_images=10).validate()


def test_more_images_than_the_dataset_has_is_refused_in_one_line():
    with pytest.raises(ValueError, match="^train_images: must be from 1 to 1796"):
        load_dataset(digits(train_images=1797))
