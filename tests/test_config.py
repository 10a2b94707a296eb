"""The one source of truth for settings: defaults, validation naming the bad setting, JSON and
URL round trips, and the presets."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from playground.errors import ConfigError
from playground.settings.config import GANConfig
from playground.settings.fields import DATASETS, LOSSES
from playground.settings.presets import PRESETS, preset

# A config that differs from the defaults in every kind of field.
CHANGED = dict(
    dataset="digits",
    arch="dcgan",
    image_size=28,
    grayscale=True,
    conditional=True,
    width=16,
    latent_dim=64,
    spectral_norm=True,
    loss="lsgan",
    label_smoothing=0.1,
    instance_noise=0.05,
    optimizer="rmsprop",
    lr_g=2e-4,
    lr_d=3.5e-5,
    beta1=0.0,
    beta2=0.9,
    batch_size=64,
    d_steps=2,
    ema=0.999,
    seed=1234,
    steps=1500,
    log_every=10,
    sample_every=100,
    device="cpu",
)


def test_defaults_validate():
    cfg = GANConfig()
    assert cfg.validate() is cfg
    assert cfg.is_points and not cfg.is_labelled


def test_changed_config_validates():
    cfg = GANConfig(**CHANGED).validate()
    assert cfg.is_labelled and not cfg.is_points


@pytest.mark.parametrize("settings_", [{}, CHANGED], ids=["defaults", "changed"])
def test_json_round_trip(settings_):
    cfg = GANConfig(**settings_)
    text = cfg.to_json()
    assert json.loads(text) == dataclasses.asdict(cfg)
    back = GANConfig.from_json(text)
    assert back == cfg
    assert back.to_json() == text


def test_query_of_defaults_is_empty():
    assert GANConfig().to_query() == {}


def test_query_round_trip_through_strings():
    cfg = GANConfig(**CHANGED)
    query = cfg.to_query()
    assert set(query) == set(CHANGED)
    assert all(isinstance(v, str) for v in query.values())
    assert query["grayscale"] == "true" and query["lr_g"] == "0.0002"
    assert GANConfig().with_strings(query) == cfg


def test_query_relative_to_a_base():
    base = preset("ring8-stable")
    cfg = base.replace(lr_g=5e-4)
    assert cfg.to_query(base) == {"lr_g": "0.0005"}
    assert base.with_strings(cfg.to_query(base)) == cfg


@settings(max_examples=60, deadline=None)
@given(
    lr=st.floats(min_value=1e-7, max_value=1.0),
    smoothing=st.floats(min_value=0.0, max_value=0.5),
    batch=st.integers(min_value=2, max_value=8192),
    sn=st.booleans(),
)
def test_query_round_trip_is_exact_for_any_legal_values(lr, smoothing, batch, sn):
    cfg = GANConfig(lr_d=lr, label_smoothing=smoothing, batch_size=batch, spectral_norm=sn)
    assert GANConfig().with_strings(cfg.to_query()) == cfg.validate()


def test_with_strings_parses_each_type():
    cfg = GANConfig().with_strings(
        {"batch_size": " 64 ", "lr_g": "1e-4", "spectral_norm": "yes", "dataset": "grid25"}
    )
    assert (cfg.batch_size, cfg.lr_g, cfg.spectral_norm, cfg.dataset) == (64, 1e-4, True, "grid25")
    assert (
        GANConfig(spectral_norm=True).with_strings({"spectral_norm": "off"}).spectral_norm is False
    )


def test_replace_returns_a_validated_copy():
    cfg = GANConfig()
    other = cfg.replace(lr_g=1e-4)
    assert other.lr_g == 1e-4 and cfg.lr_g == 1e-3
    with pytest.raises(ConfigError):
        cfg.replace(lr_g=-1.0)


def test_closed_bounds_are_accepted():
    GANConfig(lr_g=1e-7, lr_d=1.0, batch_size=2, label_smoothing=0.5, loss="lsgan").validate()
    GANConfig(gp_weight=10).validate()  # an int where a float is wanted is fine


# ---------------------------------------------------------------------- invalid values
NAN, INF = math.nan, math.inf
INVALID = [
    # wrong choice
    ("dataset", "imagenet"),
    ("arch", "biggan"),
    ("loss", "vanilla"),
    ("optimizer", "adamw"),
    ("device", "tpu"),
    ("image_size", 48),
    # out of range
    ("hidden", 2),
    ("hidden", 5000),
    ("layers", 0),
    ("width", 3),
    ("latent_dim", 0),
    ("gp_weight", 1001.0),
    ("clip_value", 0.0),
    ("label_smoothing", 0.6),
    ("lr_g", 0.0),
    ("lr_g", 2.0),
    ("lr_d", 1e-9),
    ("beta1", 1.0),
    ("beta2", 1.5),
    ("batch_size", 1),
    ("d_steps", 0),
    ("g_steps", 101),
    ("ema", 1.0),
    ("steps", 0),
    ("log_every", 0),
    ("sample_every", 0),
    ("seed", 2**31),
    ("pack", 0),
    ("pack", 9),
    ("lr_g", 10**400),  # an integer too large for a float, as JSON can spell it
    # NaN and infinities
    ("lr_g", NAN),
    ("lr_d", INF),
    ("gp_weight", NAN),
    ("clip_value", INF),
    ("ema", NAN),
    ("instance_noise", INF),
    ("beta1", -INF),
    ("label_smoothing", NAN),
    # negative
    ("lr_d", -1e-3),
    ("gp_weight", -1.0),
    ("instance_noise", -0.1),
    ("beta2", -0.1),
    ("seed", -1),
    ("steps", -5),
    ("batch_size", -32),
    # wrong type
    ("hidden", "128"),
    ("hidden", 128.0),
    ("lr_g", "0.001"),
    ("batch_size", 32.5),
    ("conditional", "yes"),
    ("spectral_norm", 1),
    ("dataset", 3),
    ("data_folder", None),
    ("lr_g", None),
    # bool where a number is wanted
    ("batch_size", True),
    ("steps", False),
    ("seed", True),
    ("lr_g", True),
]


def expect_error(setting: str, build) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        build()
    exc = info.value
    assert exc.setting == setting
    assert setting in str(exc)
    return exc


@pytest.mark.parametrize(("setting", "value"), INVALID, ids=lambda v: repr(v)[:20])
def test_invalid_value_names_its_setting(setting, value):
    expect_error(setting, lambda: GANConfig(**{setting: value}).validate())
    expect_error(setting, lambda: GANConfig.from_dict({setting: value}))


def test_invalid_value_in_json_names_its_setting():
    expect_error("lr_g", lambda: GANConfig.from_json('{"lr_g": -1}'))
    expect_error("lr_g", lambda: GANConfig.from_json('{"lr_g": 1' + "0" * 400 + "}"))
    expect_error("batch_size", lambda: GANConfig.from_json('{"batch_size": "64"}'))


def test_unknown_key_is_refused():
    exc = expect_error("nonsense", lambda: GANConfig.from_dict({"nonsense": 1}))
    assert "lr_g" in str(exc), "the message lists the known settings"
    expect_error("nonsense", lambda: GANConfig().with_strings({"nonsense": "1"}))
    expect_error("nonsense", lambda: GANConfig.from_json('{"nonsense": 1}'))


@pytest.mark.parametrize(
    ("setting", "text"),
    [
        ("lr_g", "abc"),
        ("batch_size", "3.5"),
        ("batch_size", ""),
        ("spectral_norm", "maybe"),
        ("lr_g", "-1"),
        ("lr_g", "nan"),
        ("lr_d", "inf"),
        ("lr_d", "1e400"),
        ("dataset", "nope"),
    ],
)
def test_invalid_string_names_its_setting(setting, text):
    expect_error(setting, lambda: GANConfig().with_strings({setting: text}))


@pytest.mark.parametrize(
    "loss", [name for name in LOSSES if name not in ("minimax", "nonsaturating", "lsgan")]
)
def test_label_smoothing_only_with_target_losses(loss):
    exc = expect_error(
        "label_smoothing", lambda: GANConfig(loss=loss, label_smoothing=0.1).validate()
    )
    assert loss in str(exc)
    GANConfig(loss=loss, label_smoothing=0.0).validate()


@pytest.mark.parametrize("dataset", ["ring8", "spiral"])
def test_conditional_needs_labels_on_points(dataset):
    expect_error("conditional", lambda: GANConfig(dataset=dataset, conditional=True).validate())


def test_conditional_needs_labels_on_a_folder():
    expect_error(
        "conditional",
        lambda: GANConfig(dataset="folder", data_folder="/x", conditional=True).validate(),
    )


@pytest.mark.parametrize("dataset", ["ring8", "grid25", "moons"])
def test_dcgan_on_2d_data_is_refused(dataset):
    expect_error("arch", lambda: GANConfig(dataset=dataset, arch="dcgan").validate())


def test_pack_must_divide_the_batch_and_not_be_conditional():
    GANConfig(pack=4, batch_size=64).validate()
    exc = expect_error("pack", lambda: GANConfig(pack=3, batch_size=64).validate())
    assert "batch_size" in str(exc)
    digits = dict(dataset="digits", arch="dcgan", conditional=True, batch_size=64)
    expect_error("pack", lambda: GANConfig(pack=2, **digits).validate())


@pytest.mark.parametrize("folder", ["", "   "])
def test_folder_needs_a_data_folder(folder):
    expect_error("data_folder", lambda: GANConfig(dataset="folder", data_folder=folder).validate())
    GANConfig(dataset="folder", data_folder="/some/images", arch="dcgan").validate()


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '"ring8"', "null"])
def test_malformed_json_is_a_config_error(text):
    expect_error("config", lambda: GANConfig.from_json(text))


# ---------------------------------------------------------------------- presets
@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_validates_and_applies_its_settings(name):
    cfg = preset(name)
    assert cfg.validate() is cfg
    assert cfg == PRESETS[name].config()
    for key, value in PRESETS[name].settings.items():
        assert getattr(cfg, key) == value, key
    assert cfg.dataset in DATASETS
    assert PRESETS[name].description.strip()


def test_unknown_preset_fails_clearly():
    exc = expect_error("preset", lambda: preset("ring9-magic"))
    assert "ring9-magic" in str(exc)
    for name in PRESETS:
        assert name in str(exc), "the message lists the presets to choose from"


def test_the_settings_table_has_one_row_per_setting_and_validation_reads_it():
    import dataclasses

    from playground.settings import fields

    names = [f.name for f in dataclasses.fields(GANConfig)]
    assert sorted(fields.FIELDS) == sorted(names), "one row per GANConfig field, no more"
    assert set(fields.MAIN_SETTINGS) | set(fields.ADVANCED_SETTINGS) == set(names)
    for row in fields.FIELDS.values():
        assert row.label and row.help, row.name
        if row.low is None:
            continue
        default = getattr(GANConfig(), row.name)
        assert row.low <= default <= row.high, row.name
        too_high = row.high + (1 if isinstance(row.high, int) else abs(row.high) * 0.5 + 1e-3)
        with pytest.raises(ConfigError, match=row.name) as refused:
            GANConfig().replace(**{row.name: too_high})
        assert row.bounds_text().split(" to ")[0].replace(",", "") in str(refused.value).replace(
            ",", ""), "the message names the table's range"
    assert fields.LIVE_SETTINGS == tuple(n for n, r in fields.FIELDS.items() if r.live)


def test_the_command_line_lists_every_setting(capsys):
    from playground.cli import main
    from playground.settings import fields

    assert main(["settings"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == list(fields.FIELDS)
    lr = next(line for line in out if line.startswith("lr_g "))
    assert " live " in lr and "1e-07 to 1" in lr and "Generator learning rate" in lr
