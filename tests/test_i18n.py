"""The app's languages (playground.texts, pages.ui.i18n): every text a translated page shows is in
the Chinese catalogue with its placeholders kept, and a page opened with ?lang=zh shows no
English words beyond names (GAN, Adam, the registry's identifiers…), scanned over the whole
rendered AppTest tree: every lesson at rest, and lessons that have trained."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from helpers import lesson_slots, wait_for
from streamlit.testing.v1 import AppTest

from playground.data import registry as datasets
from playground.data.loading import dataset_status
from playground.errors import ConfigError
from playground.lessons import catalogue as lessons_data
from playground.lessons import dirac
from playground.measures import fid
from playground.measures.metrics import EXPLANATIONS
from playground.models.architectures import ARCHITECTURES
from playground.objectives.losses import LOSSES
from playground.runs import slowmo
from playground.runs.snapshots import FINAL
from playground.settings.config import GANConfig
from playground.settings.fields import FIELDS
from playground.settings.presets import PRESETS
from playground.texts import catalogue as texts
from playground.views import figures

ROOT = Path(__file__).resolve().parent.parent
# The page files that show their texts through the catalogue: all of them in the Home and Lessons
# pages' files; the Train, Explore, Diagnostics and Runs pages' own files follow.
TRANSLATED = (
    "app.py",
    "pages/home.py",
    "pages/lessons.py",
    "pages/classroom.py",
    "pages/ui/classroom.py",
    "pages/ui/lessons.py",
    "pages/ui/side_by_side.py",
    "pages/ui/dirac.py",
    "pages/ui/starting.py",
    "pages/ui/common.py",
    "pages/ui/i18n.py",
    "pages/ui/settings.py",
    "pages/train.py",
    "pages/ui/train.py",
    "pages/ui/gauges.py",
    "pages/ui/charts.py",
    "pages/ui/slowmo.py",
    "pages/ui/userdata.py",
    "pages/ui/imagefolder.py",
    "pages/runs.py",
    "pages/explore.py",
    "pages/ui/explore.py",
    "pages/diagnostics.py",
    "pages/ui/diagnostics.py",
    "pages/ui/every_loss.py",
    "pages/ui/brought.py",
)
STATUSES = ("created", "starting", "running", "paused", "queued", *FINAL)


def marked_texts() -> set[str]:
    """Every literal the translated files pass to _() or N_() (Babel's extractor)."""
    found = set()
    for name in TRANSLATED:
        for _line, message, _comments, _context in extract_from_file(
            "python", str(ROOT / name), keywords={"_": None, "N_": None}
        ):
            found.add(message)
    return found


def engine_texts() -> set[str]:
    """The engine's words that the translated pages show (lessons, settings, datasets…)."""
    found = set(STATUSES) | set(lessons_data.HIDEABLE)
    for lesson in lessons_data.LESSONS:
        found |= {lesson.title, lesson.shows, lesson.watch, lesson.claim}
        found |= {v.label for v in lesson.variants} | {label for _, label in lesson.links}
        if lesson.switch is not None:
            found.add(lesson.switch.label)
    for field in FIELDS.values():
        found |= {t for t in (field.label, field.help, field.unit) if t}
    found |= {d.summary for d in datasets.DATASETS.values()}
    found |= {a.summary for a in ARCHITECTURES.values()}
    found |= {d.obtained for d in datasets.DATASETS.values()}
    found |= set(dataset_status().values()) - {
        s for s in dataset_status().values() if s.startswith("offline (")
    }
    found |= {*dirac.MODES, "regularised", "converges", "spirals out", "circles"}
    found.add(dirac.loss_help())
    # the Train and Runs pages: presets, losses' sentences and slow-motion words, measures
    found |= {p.description for p in PRESETS.values()}
    found |= {e.sentence for e in LOSSES.values()}
    found |= {t for e in LOSSES.values() for t in (e.d_aim, e.g_note) if t}
    found |= set(slowmo.PHASE_NAMES.values())
    found |= set(EXPLANATIONS.values()) | {fid.EXPLANATION, fid.INCEPTION_HINT}
    found |= {d.title for d in datasets.DATASETS.values() if english_words(d.title)}
    found |= {t for pair in figures.LAYERS.values() for t in pair}
    found |= set(figures.PLANE_CAPTIONS.values())
    found |= {
        "real",
        "generated",
        "D's decision map",
        "D's score",
        "D says",
        "G's manifold",
        "gradient arrows",
        "modes held",
        "fake ({score})",
        "real ({score})",
        "change in D",
    }
    return found | own_data_refusals()


def own_data_refusals() -> set[str]:
    """The settings' refusals of your own data not given yet (the Train page shows them)."""
    found = set()
    for name, entry in datasets.DATASETS.items():
        if entry.user_points or entry.user_folder:
            with pytest.raises(ConfigError) as refused:
                GANConfig.from_dict({"dataset": name})
            found.add(str(refused.value))
    return found


def test_languages_are_read_from_locales_and_links():
    assert texts.language_of("zh-CN") == "zh" and texts.language_of("zh_TW") == "zh"
    assert texts.language_of("ZH") == "zh" and texts.language_of("en-GB") == "en"
    assert texts.language_of("fr") == "en" and texts.language_of(None) == "en"
    assert texts.translate("Lessons", "en") == "Lessons"
    assert texts.translate("Lessons", "zh") == "课程"
    assert texts.translate("a text with no entry", "zh") == "a text with no entry"
    with pytest.raises(ValueError, match="lang"):
        texts.catalogue("xx")


def test_every_text_of_the_translated_pages_has_a_chinese_translation():
    missing = sorted((marked_texts() | engine_texts()) - set(texts.catalogue("zh")))
    assert not missing, f"{len(missing)} texts without a Chinese entry, e.g. {missing[:5]}"


def test_every_translation_keeps_its_placeholders_and_is_chinese():
    zh = texts.catalogue("zh")
    assert len(zh) > 300
    for english, chinese in zh.items():
        assert texts.placeholders(chinese) == texts.placeholders(english), english
        if english_words(english):  # words beyond names: the translation must be Chinese
            assert re.search(r"[\u4e00-\u9fff]", chinese), f"not translated: {english!r}"


def test_a_catalogue_entry_whose_placeholder_is_lost_is_caught():
    """The placeholder check can fail: a translation that drops {step} differs from its key."""
    assert texts.placeholders("Stopped at step {step}.") == {"{step}"}
    assert texts.placeholders("已停止。") != texts.placeholders("Stopped at step {step}.")
    assert texts.placeholders("{seconds:.0f} s") == {"{seconds:.0f}"}


# ---------------------------------------------------------------------- the rendered pages
# Names that stay as they are in Chinese: models, losses and methods by their papers' names,
# optimisers, data sets, units and the registry's identifiers (shown as values).
NAMES = (
    {
        "GAN",
        "GANs",
        "DCGAN",
        "WGAN",
        "WGANs",
        "LSGAN",
        "InfoGAN",
        "PacGAN",
        "SNGAN",
        "StyleGAN",
        "StyleGAN2",
        "RaGAN",
        "DiffAugment",
        "Adam",
        "RMSprop",
        "SGD",
        "MNIST",
        "CIFAR",
        "FashionMNIST",
        "Fashion",
        "EMA",
        "Dirac",
        "Playground",
        "FID",
        "KID",
        "README",
        "CPU",
        "GPU",
        "CUDA",
        "Ray",
        "MLP",
        "CSV",
        "zip",
        "scikit",
        "learn",
        "torchvision",
        "http",
        "localhost",
        "Gaussians",
        "Lipschitz",
        "Wasserstein",
        "lang",
        "std",
        "min",
        "max",
        "log",
        "exp",
        "div",
        "Mescheder",
        "Miyato",
        "Chen",
        "Lin",
        "Zhao",
        "Gulrajani",
        "Arjovsky",
        "Goodfellow",
        "Karras",
        "Mao",
        "Jolicoeur",
        "Martineau",
        "Metz",
        "Salimans",
        "Heusel",
        "al",
        "hinge",
        "cutout",
        "color",
        "translation",
        "Radford",
        "ngf",
        "ndf",
        "GFLOP",
        "PNG",
        "GIF",
        "JPEG",
        "BMP",
        "WebP",
        "Inception",
        "torchmetrics",
        "MMD",
        "ONNX",
        "onnxruntime",
        "GANSpace",
        "slerp",
        "Lim",
        "Ye",
        "ResNet",
        "RaSGAN",
        "gan_toy",  # the file of Gulrajani et al.'s toy experiments
        "uint8",  # array types and layouts, as NumPy and PyTorch name them
        "float32",
        "float64",
        "NHW",
        "NHWC",
        "NCHW",
        "NumPy",  # file kinds, named by their extensions
        "npy",
        "npz",
        "csv",
        "onnx",
        "HTML",
        "torch",  # torch.onnx.export, named in the export recipe
        "export",
        "pickle",
        "Khetan",
        "Fanti",
        "NeurIPS",
    }
    | set(datasets.DATASETS)
    | set(LOSSES)
    | set(ARCHITECTURES)
    | set(PRESETS)
    | set(FIELDS)
    | set(dirac.REGULARISERS)
    | {str(c) for f in FIELDS.values() for c in (f.choices or ())}  # the settings' values
    | {"mathbb", "text", "sigma", "nabla", "tfrac", "quad", "qquad", "mid"}
)
SKIPPED_FIELDS = {
    "id",
    "key",
    "form_id",
    "icon",
    "type",
    "format",
    "theme",
    "spec",
    "body_latex",
    "url",
    "page_script_hash",
    "default_value",
    "font",
    "cache_key",
    "hash",
    "deferred_file_id",
    "page",  # a page link's address
    "config",  # a chart's options (JSON)
}


def _strings(message, out: list[str]) -> None:
    """Every string field of a protobuf element (labels, bodies, help, options…)."""
    for field, value in message.ListFields():
        if field.name in SKIPPED_FIELDS:
            continue
        if isinstance(value, str):
            out.append(value)
        elif hasattr(value, "ListFields"):
            _strings(value, out)
        elif isinstance(value, (list, tuple)) or type(value).__name__.startswith("Repeated"):
            for item in value:
                if isinstance(item, str):
                    out.append(item)
                elif hasattr(item, "ListFields"):
                    _strings(item, out)


def _figure_strings(spec: str) -> list[str]:
    fig = json.loads(spec)
    found = [t.get("name") or "" for t in fig.get("data", [])]
    for t in fig.get("data", []):
        bar = t.get("colorbar") or {}
        found += [(bar.get("title") or {}).get("text") or "", *(bar.get("ticktext") or [])]
    layout = fig.get("layout", {})
    for part in ("title", "xaxis", "yaxis"):
        title = layout.get(part, {}) if part != "title" else {"title": layout.get("title", {})}
        title = title.get("title", {})
        found.append(title.get("text", "") if isinstance(title, dict) else str(title))
    return found


def shown_texts(at: AppTest) -> list[str]:
    """The words of every element the run drew, charts' titles and legends included."""
    out: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if type(node).__name__ in ("Table", "Dataframe"):  # their cells are Arrow bytes
            frame = node.value
            out.extend(str(c) for c in [*frame.columns, *frame.index])
            out.extend(
                str(v) for row in frame.itertuples(index=False) for v in row if isinstance(v, str)
            )
        elif proto is not None and type(node).__name__ not in ("Latex", "Code"):
            if hasattr(proto, "spec") and proto.spec:
                out.extend(_figure_strings(proto.spec))
            _strings(proto, out)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return out


def english_words(text: str) -> list[str]:
    text = re.sub(r"\\([\\`*_{}\[\]()#+\-.!'])", r"\1", text)  # markdown's escapes (ui.plain)
    text = re.sub(r"\$[^$]*\$", " ", text)  # inline formulas
    text = re.sub(r"`[^`]*`", " ", text)  # code
    text = re.sub(r"<[^<>]*>|&#?[a-z0-9]+;", " ", text)  # HTML tags and entities
    text = re.sub(r"\{[a-z_]+(:[^{}]*)?\}", " ", text)  # placeholders ({title}, {seconds:.0f})
    text = re.sub(r"\?[a-z]+=[^\s)]*", " ", text)  # an address's query (?lang=zh)
    text = re.sub(r"https?://\S+", " ", text)
    left = []
    for token in re.findall(r"[A-Za-z][A-Za-z0-9_'’-]*", text):
        token = token.rstrip("-'’")
        if token in NAMES or token.removesuffix("'s").removesuffix("’s") in NAMES:
            continue
        left += [
            p
            for p in re.split(r"[-_]", token)
            if len(re.sub(r"[^A-Za-z]", "", p)) >= 3 and p not in NAMES
        ]
    return left


def _english_left(at: AppTest) -> dict[str, list[str]]:
    return {t[:80]: english_words(t) for t in shown_texts(at) if english_words(t)}


@pytest.fixture
def slots(monkeypatch):
    from test_app_lessons import SHORT

    with lesson_slots(monkeypatch, SHORT) as pair:
        yield pair


def _page(name: str, lang: str | None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / name), default_timeout=60)
    if lang:
        at.query_params["lang"] = lang
    return at


def test_the_home_page_in_chinese_has_no_english_left():
    at = _page("home.py", "zh").run()
    assert not at.exception
    assert at.title[0].value == "GAN Playground"
    assert any("生成器" in m.value for m in at.markdown)
    assert _english_left(at) == {}


@pytest.mark.parametrize("lesson", lessons_data.LESSONS, ids=lambda x: x.key)
def test_every_lesson_at_rest_in_chinese_has_no_english_left(lesson, slots):
    at = _page("lessons.py", "zh")
    at.query_params["lesson"] = str(lesson.number)
    at.run()
    assert not at.exception
    assert any(h.value.startswith(f"第 {lesson.number} 课") for h in at.header)
    assert _english_left(at) == {}


@pytest.mark.parametrize("key", ["game", "collapse", "memorise"])
def test_a_lesson_that_has_trained_in_chinese_has_no_english_left(key, slots):
    slot, multi = slots
    lesson = lessons_data.lesson(key)
    at = _page("lessons.py", "zh")
    at.query_params["lesson"] = str(lesson.number)
    at.run()
    next(b for b in at.button if b.key == f"lessons.start.{lesson.key}").click()
    at.run()
    runner = multi.run if lesson.kind == "side-by-side" else slot.run
    wait_for(lambda: not runner.snapshot().active, "the lesson's run to finish")
    at.run()
    assert not at.exception
    assert any("已完成" in p.proto.text for p in at.get("progress")), "the status in Chinese"
    assert _english_left(at) == {}


def test_the_same_page_without_lang_is_english():
    at = _page("lessons.py", None).run()
    assert at.title[0].value == "Lessons"
    at = _page("lessons.py", "zh").run()
    assert at.title[0].value == "课程"


def test_the_scan_finds_english_left_in_a_chinese_page():
    """The scan can fail: an English sentence among Chinese ones is found, names are not."""
    assert english_words("第 1 课：The game itself") == ["The", "game", "itself"]
    assert english_words("用 Adam 训练 DCGAN，数据集 ring8") == []
    assert english_words("链接 ?lang=zh 与 http://localhost:8501") == []


# ---------------------------------------------------------------------- the Train and Runs pages
def test_the_train_page_at_rest_in_chinese_has_no_english_left(fresh_slot):
    at = _page("train.py", "zh").run()
    assert not at.exception
    assert at.title[0].value == "训练一个 GAN"
    assert [b.label for b in at.button][:1] == ["开始"]
    assert _english_left(at) == {}


@pytest.mark.parametrize("dataset", ["own-points", "folder"])
def test_the_train_page_for_your_own_data_in_chinese_has_no_english_left(dataset, fresh_slot):
    at = _page("train.py", "zh")
    at.query_params["dataset"] = dataset  # a link that trains on your own data
    at.run()
    assert not at.exception
    assert at.error, "the data is asked for"
    assert _english_left(at) == {}


def test_the_train_page_after_a_short_run_in_chinese_has_no_english_left(fresh_slot):
    at = _page("train.py", "zh").run()
    at.sidebar.selectbox(key="preset").set_value("ring8-collapse").run()
    at.sidebar.number_input(key="cfg.batch_size").set_value(64).run()
    at.sidebar.number_input(key="cfg.steps").set_value(60).run()
    at.sidebar.number_input(key="cfg.eval_every").set_value(20).run()
    next(b for b in at.button if b.key is None and b.label == "开始").click().run()
    run = fresh_slot.run
    wait_for(lambda: not run.snapshot().active, "the short run to finish")
    at.run()
    assert not at.exception
    assert run.snapshot().status == "finished"
    assert any("已完成" in p.proto.text for p in at.get("progress")), "the status in Chinese"
    assert any(m.label == "保住的模式数" for m in at.metric), "the live gauges in Chinese"
    assert len(at.get("plotly_chart")) >= 4
    assert _english_left(at) == {}


def test_the_train_page_in_slow_motion_in_chinese_has_no_english_left(fresh_slot):
    at = _page("train.py", "zh").run()
    at.sidebar.selectbox(key="preset").set_value("ring8-collapse").run()
    at.sidebar.number_input(key="cfg.batch_size").set_value(64).run()
    at.sidebar.number_input(key="cfg.steps").set_value(100000).run()
    next(b for b in at.button if b.label == "开始").click().run()
    run = fresh_slot.run
    wait_for(lambda: run.snapshot().step >= 3, "a few steps")
    next(b for b in at.button if b.label == "暂停").click().run()
    wait_for(lambda: run.status == "paused", "the run to pause")
    at.run()
    assert _english_left(at) == {}
    for phase in ("D 的更新", "G 的更新"):  # D's phase, then G's
        next(b for b in at.button if b.key == "train.slowmo.next").click().run()
        assert not at.exception
        assert any(phase in m.value for m in at.markdown), phase
        assert _english_left(at) == {}


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    from helpers import small_checkpoints

    return small_checkpoints(tmp_path_factory.mktemp("i18n-runs"))


RUNS_NAMES = {"examples", "runs"}  # the checkpoints' folders, shown in each run's name


def _runs_page(tmp_path) -> AppTest:
    """The Runs page in Chinese inside a small router (its buttons switch pages), as in
    test_app_runs."""
    from test_app_runs import PAGES, ROUTER, TOKEN, TRAIN_STUB

    from pages.ui import common as ui

    site = tmp_path / "site"
    (site / "pages").mkdir(parents=True)
    (site / "router.py").write_text(ROUTER)
    (site / "pages" / "train.py").write_text(TRAIN_STUB)
    for name in ("runs.py", "explore.py"):
        (site / "pages" / name).symlink_to(PAGES / name)
    at = AppTest.from_file(str(site / "router.py"), default_timeout=60)
    at.session_state[ui.OWNER_KEY] = TOKEN
    at.query_params["lang"] = "zh"
    return at


def test_the_runs_page_with_a_saved_run_in_chinese_has_no_english_left(
    saved_run, tmp_path, monkeypatch
):
    from helpers import install_checkpoints
    from test_app_runs import TOKEN

    from playground.storage import store

    layout = {"ring": "runs/ring8-stable", "digits": "examples/digits-dcgan"}
    paths = install_checkpoints(saved_run, tmp_path / "checkpoints", layout, monkeypatch)
    store.claim_run(paths["ring"], TOKEN)
    at = _runs_page(tmp_path).run()
    assert not at.exception
    assert [h.value for h in at.header] == ["你的训练 (1)", "示例 (1)"]
    assert any("保住的模式数" in m.value for m in at.markdown), "the run's metrics in Chinese"
    left = {t: [w for w in words if w not in RUNS_NAMES] for t, words in _english_left(at).items()}
    assert {t: words for t, words in left.items() if words} == {}


def test_the_runs_page_with_no_run_in_chinese_has_no_english_left(tmp_path, monkeypatch):
    from pages.ui import common as ui

    monkeypatch.setattr(ui, "CHECKPOINTS", tmp_path / "checkpoints")
    monkeypatch.setattr(ui, "USER_RUNS", tmp_path / "checkpoints" / "runs")
    at = _runs_page(tmp_path).run()
    assert not at.exception
    assert at.title[0].value == "训练记录"
    assert any("还没有检查点" in i.value for i in at.info)
    assert _english_left(at) == {}


# ---------------------------------------------------------------------- the Latent explorer
def _explorer(saved_run, tmp_path, monkeypatch, which: str) -> AppTest:
    """The Latent explorer in Chinese on a small checkpoint (the digits DCGAN or the 2D ring)."""
    from helpers import install_checkpoints

    layout = {"ring": "examples/ring8-stable", "digits": "runs/digits-dcgan"}
    paths = install_checkpoints(saved_run, tmp_path / "checkpoints", layout, monkeypatch)
    at = _page("explore.py", "zh")
    at.session_state["explore_source"] = str(paths[which])
    return at.run()


def _explorer_left(at: AppTest) -> dict[str, list[str]]:
    left = {t: [w for w in words if w not in RUNS_NAMES] for t, words in _english_left(at).items()}
    return {t: words for t, words in left.items() if words}


def test_the_explorer_on_a_digits_checkpoint_in_chinese_has_no_english_left(
    saved_run, tmp_path, monkeypatch
):
    at = _explorer(saved_run, tmp_path, monkeypatch, "digits")
    assert not at.exception
    assert at.title[0].value == "潜在空间探索"
    assert at.header[0].value == "插值"
    assert len(at.image) == 2
    assert _explorer_left(at) == {}


def test_the_explorer_on_a_2d_checkpoint_in_chinese_has_no_english_left(
    saved_run, tmp_path, monkeypatch
):
    at = _explorer(saved_run, tmp_path, monkeypatch, "ring")
    assert not at.exception
    assert len(at.get("plotly_chart")) == 2
    assert _explorer_left(at) == {}


def test_the_explorer_with_nothing_to_explore_in_chinese_has_no_english_left(
    tmp_path, monkeypatch
):
    from pages.ui import common as ui

    monkeypatch.setattr(ui, "CHECKPOINTS", tmp_path / "checkpoints")
    monkeypatch.setattr(ui, "USER_RUNS", tmp_path / "checkpoints" / "runs")
    at = _page("explore.py", "zh").run()
    assert not at.exception
    assert any("检查点压缩包" in i.value for i in at.info)
    assert _english_left(at) == {}
