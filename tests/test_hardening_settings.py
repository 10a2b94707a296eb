"""Hardening, settings: any combination of values, of any type, either validates or is refused
with a ConfigError naming a real setting; never another exception. The same for the command
line's `--set KEY=VALUE` and for settings arriving as text in a page URL."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from playground import cli
from playground.errors import ConfigError, UsageError
from playground.settings.config import GANConfig
from playground.settings.fields import DATASETS

FIELDS = {f.name: f for f in dataclasses.fields(GANConfig)}
NAMES = sorted(FIELDS)
FLOAT_FIELDS = [n for n, f in FIELDS.items() if f.type in ("float", float)]
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Values of every kind a JSON file, a URL, a widget or a careless caller can produce.
NASTY_NUMBERS = st.sampled_from(
    [math.nan, -math.nan, math.inf, -math.inf, 0, 0.0, -0.0, -1, -1e-300, 1e-320, 5e-324,
     2**31, 2**63, 10**400, -(10**400), 1e308, 1.7976931348623157e308, True, False]
)
ANY_VALUE = st.one_of(
    NASTY_NUMBERS,
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(list(DATASETS) + ["mlp", "dcgan", "wgan-gp", "cpu", "cuda", "", " ", "..",
                                      "/etc", "folder", "\x00", "ring8\n"]),
    st.none(),
    st.binary(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.complex_numbers(allow_nan=True),
    st.builds(object),
)
# A plausible value for a field (right type, sometimes out of range), so that combinations get
# past the type checks and reach the cross-field rules.
def plausible(name: str) -> st.SearchStrategy:
    kind = FIELDS[name].type
    if kind in ("bool", bool):
        return st.booleans()
    if kind in ("int", int):
        return st.one_of(st.integers(-3, 600), st.sampled_from([1, 2, 4, 8, 64, 2**31, 10**12]))
    if kind in ("float", float):
        return st.one_of(st.floats(-2, 2), st.sampled_from([0.0, 1e-7, 0.5, 0.9999, math.nan]))
    return st.sampled_from(list(DATASETS) + ["mlp", "dcgan", "minimax", "wgan", "wgan-gp",
                                             "hinge", "adam", "sgd", "auto", "cpu", "", "x"])


def settings_dicts(values) -> st.SearchStrategy:
    return st.dictionaries(st.sampled_from(NAMES), values, max_size=8)


def plausible_dicts() -> st.SearchStrategy:
    return st.fixed_dictionaries(
        {}, optional={name: plausible(name) for name in NAMES}
    )


def check_outcome(build, given_keys=()) -> GANConfig | None:
    """Run `build`; it must return a valid config or raise ConfigError naming a setting (a
    known one, or an unknown key the caller gave). Any other exception fails the test."""
    try:
        cfg = build()
    except ConfigError as exc:
        assert exc.setting in FIELDS or exc.setting in given_keys, exc.setting
        shown = exc.setting if exc.setting.isprintable() else repr(exc.setting)
        assert str(exc).startswith(f"{shown}: "), str(exc)
        assert "\n" not in str(exc)
        return None
    # Whatever validated is really valid: every float finite, JSON and URL round trips exact.
    assert isinstance(cfg, GANConfig)
    for name in FLOAT_FIELDS:
        assert math.isfinite(getattr(cfg, name)), name
    assert GANConfig.from_json(cfg.to_json()) == cfg
    assert GANConfig().with_strings(cfg.to_query()) == cfg
    return cfg


@FAST
@given(data=settings_dicts(ANY_VALUE))
@example(data={"lr_g": math.nan})
@example(data={"batch_size": 10**400})
@example(data={"lr_d": 10**400})
@example(data={"dataset": ["ring8"]})
@example(data={"image_size": {"x": 1}})
@example(data={"data_folder": None, "dataset": "folder"})
@example(data={"pack": 0, "batch_size": 0})
def test_any_values_validate_or_name_the_setting(data):
    check_outcome(lambda: GANConfig.from_dict(data))
    # The dataclass built directly and validated behaves the same.
    check_outcome(lambda: GANConfig(**data).validate())


@FAST
@given(data=plausible_dicts())
def test_plausible_combinations_validate_or_name_the_setting(data):
    cfg = check_outcome(lambda: GANConfig.from_dict(data))
    if cfg is not None:  # the cross-field rules hold for everything accepted
        assert cfg.batch_size % cfg.pack == 0
        assert not (cfg.is_points and cfg.arch != "mlp")
        assert not (cfg.conditional and not cfg.is_labelled)
        assert cfg.dataset != "folder" or cfg.data_folder.strip()


@FAST
@given(key=st.one_of(st.sampled_from(NAMES), st.text(max_size=12)), text=st.text(max_size=40))
@example(key="batch_size", text="9" * 5000)  # past Python's int-from-text digit limit
@example(key="lr_g", text="1e400")
@example(key="lr_g", text="nan")
@example(key="seed", text="٣")  # a non-ASCII digit: int() accepts it; the range check decides
@example(key="steps", text="1_000")
@example(key="spectral_norm", text="\x00")
def test_settings_as_text_validate_or_name_the_setting(key, text):
    check_outcome(lambda: GANConfig().with_strings({key: text}), {key})


@FAST
@given(
    items=st.lists(
        st.one_of(
            st.builds(lambda k, v: f"{k}={v}", st.sampled_from(NAMES), st.text(max_size=20)),
            st.text(max_size=25),
        ),
        max_size=4,
    )
)
@example(items=["=5"])
@example(items=["lr_g"])
@example(items=["dataset=folder"])
@example(items=["lr_g=1e-3=4"])
@example(items=["batch_size=" + "9" * 5000])
def test_command_line_set_validates_or_names_the_setting(items):
    """`--set` through the real argument parser and build_config: a config, a ConfigError
    naming a setting, or (malformed KEY=VALUE) a one-line usage error; nothing else."""
    argv = ["train", "--out", "unused"]
    for item in items:
        argv += ["--set", item]
    try:
        args = cli._parser().parse_args(argv)
    except UsageError:
        return  # e.g. an item that argparse reads as an option
    try:
        cfg = cli.build_config(args)
    except UsageError as exc:
        assert "KEY=VALUE" in str(exc)
        return
    except ConfigError as exc:
        keys = {item.partition("=")[0].strip() for item in items}
        assert exc.setting in keys | set(FIELDS), exc.setting
        return
    assert isinstance(cfg, GANConfig)
    assert GANConfig.from_json(cfg.to_json()) == cfg


class _Stop(Exception):
    """Raised instead of training, so a valid config costs nothing."""


@settings(max_examples=60, deadline=None)
@given(key=st.sampled_from(NAMES), text=st.text(max_size=15))
@example(key="lr_g", text="inf")
@example(key="steps", text="-1")
def test_command_line_main_exits_cleanly(key, text, monkeypatch_session):
    """The whole program: a bad --set exits 2 with one line naming the setting; a good one gets
    as far as making the run (stubbed here)."""
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = cli.main(["train", "--set", f"{key}={text}", "--out", "unused", "--quiet"])
        except _Stop:
            return
    assert code == 2, err.getvalue()
    line = err.getvalue().strip()
    assert "\n" not in line and "Traceback" not in line
    assert key in line or "KEY=VALUE" in line or "argument" in line, line


@pytest.fixture(scope="module")
def monkeypatch_session():
    """The run factory replaced by a stub that stops the command before any training (the
    command has checked every setting by then: it makes its run from a valid config)."""
    from playground.runs import backends

    mp = pytest.MonkeyPatch()

    def stub(cfg=None, *args, **kwargs):
        assert cfg is not None, "a new run gets its checked config"
        raise _Stop

    mp.setattr(backends, "make_run", stub)
    yield mp
    mp.undo()


def test_validated_config_is_json_safe():
    """A refused NaN never reaches JSON (json.dumps would write the non-standard NaN)."""
    with pytest.raises(ConfigError):
        GANConfig(lr_g=math.nan).validate()
    text = GANConfig().to_json()
    assert "NaN" not in text and "Infinity" not in text
    json.loads(text)
