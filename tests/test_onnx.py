"""Generators brought as ONNX graphs (playground.onnxmodel): the project's own DCGAN and MLP
exported and compared with torch, the README's export recipe run as written, diagnosis of the
graph against diagnosis of the checkpoint, the command line, the explorer's upload, and one
refusal per kind of hostile or broken file."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from streamlit.testing.v1 import AppTest

from pages.ui import common as ui
from pages.ui import explore as explore_ui
from playground import latent, onnxmodel
from playground.cli import main
from playground.latent import LatentModel, load_latent_model
from playground.measures.brought import diagnose_samples
from playground.models.architectures import build_models
from playground.onnxmodel import OnnxError, generator_samples, load_onnx_model
from playground.settings.config import GANConfig
from playground.settings.presets import preset
from playground.storage.checkpoints import save_checkpoint
from playground.training.trainer import Trainer

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "explore.py")
LATENT = 64  # the README's recipe exports a generator of 64 latent dimensions


def export(module: torch.nn.Module, args: tuple, path: Path, names: list[str]) -> Path:
    """The project's generator exported as the README says, quietly."""
    module.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, str(path), input_names=names, opset_version=18,
                          dynamic_shapes=tuple({0: "batch"} for _ in args),
                          external_data=False, verbose=False)
    return path


def readme_recipe() -> str:
    """The Python block after the README's export marker."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- onnx-export -->\s*```python\n(.*?)```", text, re.S)
    assert found, "the README keeps its ONNX export recipe after the marker"
    return found.group(1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """digits-dcgan (8 px), narrow, a few steps; its checkpoint; and the README's export of it."""
    cfg = preset("digits-dcgan").replace(width=8, latent_dim=LATENT, batch_size=16, device="cpu")
    trainer = Trainer(cfg)
    for _ in range(3):
        trainer.train_step()
    root = tmp_path_factory.mktemp("onnx")
    save_checkpoint(trainer, root / "ckpt")
    checkpoint = load_latent_model(root / "ckpt")
    # The README's block, run as written, in a folder of its own, on the checkpoint's generator.
    namespace = {"generator": checkpoint.generator}
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        patch.chdir(root)
        exec(compile(readme_recipe(), "README.md", "exec"), namespace)
    return checkpoint, root / "generator.onnx"


# ---------------------------------------------------------------------- the project's own
def test_the_readme_recipe_exports_a_generator_that_matches_torch(trained):
    checkpoint, path = trained
    model = load_onnx_model(path)
    assert (model.kind, model.shape, model.latent_dim, model.num_classes) == ("images",
                                                                               (1, 8, 8), 64, 0)
    assert model.dataset == "digits"  # the props the recipe sets
    assert model.step == 0 and model.fixed_z.shape == (onnxmodel.PROBE, LATENT)
    assert onnxmodel.onnx_notes(model) == []  # a tanh generator: nothing mapped
    z = torch.randn(300, LATENT, generator=torch.Generator().manual_seed(3))  # > RUN_BATCH
    ours, theirs = model.generate(z), checkpoint.generate(z)
    assert ours.shape == theirs.shape == (300, 1, 8, 8)
    assert torch.allclose(ours, theirs, atol=1e-4), (ours - theirs).abs().max()
    assert torch.allclose(model.sample(5, seed=2), checkpoint.sample(5, seed=2), atol=1e-4)


def test_the_explorer_arithmetic_works_without_autograd(trained):
    checkpoint, path = trained
    model = load_onnx_model(path.read_bytes())  # bytes, as an upload gives them
    found, explained = latent.principal_directions(model, 4, n=128)
    reference, _ = latent.principal_directions(checkpoint, 4, n=128)
    assert found.shape == (4, LATENT) and explained.shape == (4,)
    assert torch.allclose(found.abs(), reference.abs(), atol=1e-3)
    assert latent.output_change(model, found[0]) > 0
    path_z = latent.interpolate(latent.z_from_seed(0, LATENT), latent.z_from_seed(1, LATENT), 6)
    assert model.generate(path_z).shape == (6, 1, 8, 8)


def test_a_conditional_generator_takes_its_labels(tmp_path):
    cfg = GANConfig(dataset="digits", arch="dcgan", image_size=8, width=8, latent_dim=16,
                    conditional=True).validate()
    torch.manual_seed(0)
    g, _ = build_models(cfg, (1, 8, 8), 10)
    g.eval()
    args = (torch.randn(1, 16), torch.zeros(1, dtype=torch.long))
    path = export(g, args, tmp_path / "cond.onnx", ["z", "labels"])
    with pytest.raises(OnnxError, match="how many classes"):
        load_onnx_model(path)
    model = load_onnx_model(path, num_classes=10)
    assert model.num_classes == 10 and torch.equal(model.fixed_labels,
                                                   torch.arange(onnxmodel.PROBE) % 10)
    z = torch.randn(12, 16)
    labels = torch.arange(12) % 10
    with torch.no_grad():
        expected = g(z, labels)
    assert torch.allclose(model.generate(z, labels), expected, atol=1e-4)
    assert torch.allclose(model.generate(z, 3), g(z, torch.full((12,), 3)).detach(), atol=1e-4)
    tagged = onnx.load(str(path))
    helper.set_model_props(tagged, {"num_classes": "10", "dataset": "digits"})
    assert load_onnx_model(tagged.SerializeToString()).num_classes == 10


def test_a_2d_mlp_generator_loads_as_points(tmp_path):
    cfg = GANConfig(dataset="ring8", hidden=16, layers=2, latent_dim=3).validate()
    torch.manual_seed(0)
    g, _ = build_models(cfg, (2,), 0)
    path = export(g, (torch.randn(1, 3),), tmp_path / "mlp.onnx", ["z"])
    model = load_onnx_model(path)
    assert (model.kind, model.shape, model.dataset, model.real) == ("points", (2,), "", None)
    assert model.extent is not None  # fitted to its own samples
    z = torch.randn(20, 3)
    with torch.no_grad():
        assert torch.allclose(model.generate(z), g(z), atol=1e-4)
    tagged = onnx.load(str(path))
    helper.set_model_props(tagged, {"dataset": "ring8"})
    known = load_onnx_model(tagged.SerializeToString())
    assert known.dataset == "ring8" and known.real.shape == (1000, 2)


# ---------------------------------------------------------------------- diagnosis
def test_diagnosing_the_graph_reads_as_diagnosing_the_checkpoint(trained):
    checkpoint, path = trained
    from_graph = diagnose_samples(generator_samples(load_onnx_model(path), 200, 7), "digits", 7)
    from_torch = diagnose_samples(generator_samples(checkpoint, 200, 7), "digits", 7)
    ours, theirs = from_graph.measures, from_torch.measures
    assert set(ours) == set(theirs) and "classes_held" in ours
    for key, value in theirs.items():
        assert_close(ours[key], value, key)
    assert from_graph.verdict == from_torch.verdict


def assert_close(ours, theirs, where: str) -> None:
    """Equal, but for floats (at any depth) within float32 rounding of the samples."""
    if isinstance(theirs, float):
        assert ours == pytest.approx(theirs, rel=1e-4, abs=1e-6), where
    elif isinstance(theirs, dict):
        assert set(ours) == set(theirs), where
        for key in theirs:
            assert_close(ours[key], theirs[key], f"{where}.{key}")
    elif isinstance(theirs, list):
        assert len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            assert_close(a, b, f"{where}[{i}]")
    else:
        assert ours == theirs, where


def test_the_command_line_diagnoses_an_onnx_generator(trained, capsys):
    checkpoint, path = trained
    capsys.readouterr()
    argv = ["diagnose", "--samples", str(path), "--real", "digits", "--n", "120", "--seed", "4"]
    assert main([*argv, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    expected = diagnose_samples(generator_samples(checkpoint, 120, 4), "digits", 4).measures
    assert result["samples"] == 120 and result["classes_held"] == expected["classes_held"]
    assert result["class_histogram"] == expected["class_histogram"]
    assert any("seed 4" in note for note in result["notes"])
    assert main(argv[:3] + ["--n", "120"]) == 0  # --real from the graph's metadata
    out = capsys.readouterr().out
    assert "against digits" in out and "verdict:" in out


def test_the_command_line_refuses_in_one_line(trained, tmp_path, capsys):
    _, path = trained
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\xff\xfe not a graph")
    cases = [
        (["diagnose", "--samples", str(junk), "--real", "digits"], "not an ONNX model"),
        (["diagnose", "--samples", str(path), "--real", "digits", "--n", "5"], "--n must be"),
        (["diagnose", "--samples", str(tmp_path / "gone.onnx"), "--real", "digits"],
         "does not exist"),
        (["diagnose", "--samples", str(path), "--real", "ring8", "--n", "20"], "2D set"),
    ]
    for argv, words in cases:
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1, err


# ---------------------------------------------------------------------- the explorer
def open_explorer(tmp_path, monkeypatch, name: str, data: bytes) -> AppTest:
    monkeypatch.setattr(ui, "CHECKPOINTS", tmp_path)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.selectbox(key="explore.source").set_value(explore_ui.ONNX_UPLOAD).run()
    assert at.info  # asks for a file
    at.file_uploader(key="explore.onnx").set_value((name, data, "application/octet-stream"))
    return at.run()


def test_the_explorer_explores_an_uploaded_generator(trained, tmp_path, monkeypatch):
    _, path = trained
    at = open_explorer(tmp_path, monkeypatch, "generator.onnx", path.read_bytes())
    assert not at.exception and not at.error
    assert len(at.image) == 2  # the sample and the interpolation strip
    assert any("No code from the file runs" in c.value for c in at.caption)
    before = at.image[0].value
    at.radio(key="explore.mode").set_value("Principal directions").run()
    sliders = [s for s in at.slider if s.label.startswith("Direction")]
    assert len(sliders) == 4
    sliders[0].set_value(3.0).run()
    assert not at.exception and at.image[0].value != before


def test_the_explorer_reports_a_refused_file(tmp_path, monkeypatch):
    at = open_explorer(tmp_path, monkeypatch, "x.onnx", b"\x00\x01garbage")
    assert not at.exception
    assert at.error and "cannot be used" in at.error[0].value


# ---------------------------------------------------------------------- hostile and broken
def graph(nodes, inputs, outputs, weights=(), opset=18, props=None, functions=()) -> bytes:
    domains = [helper.make_opsetid("", opset)]
    domains += [helper.make_opsetid(d, 1) for d in sorted({f.domain for f in functions})]
    model = helper.make_model(
        helper.make_graph(nodes, "g", inputs, outputs, list(weights)),
        opset_imports=domains, functions=list(functions),
    )
    model.ir_version = 10
    if props:
        helper.set_model_props(model, props)
    return model.SerializeToString()


def z_input(dims=("batch", 4), name="z", kind=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, kind, list(dims))


def out(kind=TensorProto.FLOAT, name="x", rank=2):
    """A graph output of free dimensions: what comes out is learnt by running the graph."""
    return helper.make_tensor_value_info(name, kind, [f"d{i}" for i in range(rank)])


def weight(name: str, array) -> TensorProto:
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)


def images(side: int = 4, channels: int = 1, last: str = "Tanh", scale: float = 1.0) -> bytes:
    """z (batch, 4) -> MatMul, times scale -> last activation -> (batch, channels, side, side)."""
    size = channels * side * side
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("MatMul", ["z", "w"], ["h"]),
             helper.make_node("Mul", ["h", "s"], ["m"]),
             helper.make_node(last, ["m"], ["a"]),
             helper.make_node("Reshape", ["a", "shape"], ["x"])]
    weights = [weight("w", rng.normal(size=(4, size))), weight("s", scale),
               numpy_helper.from_array(np.array([-1, channels, side, side], np.int64), "shape")]
    return graph(nodes, [z_input()], [out(rank=4)], weights)


def points(latent_dims=("batch", 3), extra_nodes=(), weights=()) -> bytes:
    dim = latent_dims[1] if isinstance(latent_dims[1], int) else 3
    nodes = [helper.make_node("MatMul", ["z", "w"], ["x"]), *extra_nodes]
    return graph(nodes, [z_input(latent_dims)], [out(name=nodes[-1].output[0])],
                 [weight("w", np.ones((dim, 2))), *weights])


def refused(data, words: str, **kwargs) -> None:
    with pytest.raises(OnnxError) as caught:
        load_onnx_model(data, **kwargs)
    message = str(caught.value)
    assert words in message and "\n" not in message, message


def test_small_valid_graphs_load():
    assert load_onnx_model(points()).kind == "points"
    model = load_onnx_model(images(side=8, channels=3))
    assert model.shape == (3, 8, 8) and model.generate(torch.randn(2, 4)).abs().max() <= 1


def test_a_sigmoid_generator_is_mapped_to_minus_one_one_with_a_note():
    model = load_onnx_model(images(last="Sigmoid"))
    assert "sigmoid" in onnxmodel.onnx_notes(model)[0]
    result = model.generate(torch.randn(50, 4))
    assert result.min() < -0.5 and result.max() > 0.5  # [0, 1] stretched over [-1, 1]


def test_without_a_telling_activation_the_probe_range_decides():
    model = load_onnx_model(images(last="Abs", scale=0.05))  # |h|: non-negative, below 1
    assert "taken as [0, 1]" in onnxmodel.onnx_notes(model)[0]
    tanh = load_onnx_model(images(last="Tanh", scale=0.05))
    assert onnxmodel.onnx_notes(tanh) == []  # a tanh says [-1, 1], whatever the probe shows


def test_size_bound(monkeypatch, tmp_path):
    monkeypatch.setattr(onnxmodel, "MAX_ONNX_BYTES", 100)
    refused(images(side=8), "larger than")
    (tmp_path / "big.onnx").write_bytes(images(side=8))
    refused(tmp_path / "big.onnx", "larger than")


def test_not_onnx():
    refused(b"\xff\xfe\x00 these are not protobuf bytes", "not an ONNX model")
    refused(b"", "empty")
    refused(b"\x08\x07", "not an ONNX model")  # a protobuf: IR version 7 and nothing else


def test_external_data_is_refused_before_anything_reads_it():
    w = weight("w", np.ones((3, 2)))
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value="/etc/passwd")
    data = graph([helper.make_node("MatMul", ["z", "w"], ["x"])], [z_input(("batch", 3))],
                 [out()], [w])
    refused(data, "external data")


def test_external_data_inside_a_subgraph_is_refused_too():
    hidden = weight("w", np.ones((3, 2)))
    hidden.ClearField("raw_data")
    hidden.data_location = TensorProto.EXTERNAL
    hidden.external_data.add(key="location", value="../../secret.bin")
    branch = helper.make_graph([helper.make_node("Constant", [], ["c"], value=hidden)], "b", [],
                               [out(name="c")])
    node = helper.make_node("If", ["z"], ["x"], then_branch=branch, else_branch=branch)
    refused(graph([node], [z_input()], [out()]), "external data")


def test_local_functions_of_standard_operators_run_and_custom_ones_are_refused():
    def with_function(op: str, domain: str) -> bytes:
        double = helper.make_function(
            "local", "Double", ["a"], ["b"], [helper.make_node(op, ["a", "a"], ["b"],
                                                                domain=domain)],
            [helper.make_opsetid("", 18)])
        nodes = [helper.make_node("MatMul", ["z", "w"], ["p"]),
                 helper.make_node("Double", ["p"], ["x"], domain="local")]
        return graph(nodes, [z_input(("batch", 3))], [out()], [weight("w", np.ones((3, 2)))],
                     functions=[double])

    model = load_onnx_model(with_function("Add", ""))
    z = torch.randn(4, 3)
    assert torch.allclose(model.generate(z), 2 * z.sum(1, keepdim=True).expand(4, 2), atol=1e-5)
    refused(with_function("Add", "com.example"), "custom domain 'com.example'")


def test_custom_domain_and_unrunnable_operators():
    node = helper.make_node("RunShell", ["z"], ["x"], domain="com.example")
    data = graph([node], [z_input()], [out()])
    refused(data, "custom domain 'com.example'")
    # A standard operator onnxruntime has no kernel for on these types (Sin of integers).
    nodes = [helper.make_node("Cast", ["z"], ["i"], to=TensorProto.INT64),
             helper.make_node("Sin", ["i"], ["s"]),
             helper.make_node("Cast", ["s"], ["x"], to=TensorProto.FLOAT)]
    refused(graph(nodes, [z_input()], [out()]), "onnxruntime cannot run this graph")


def test_input_and_output_counts():
    add = helper.make_node("Add", ["z", "y"], ["s"])
    three = graph([add, helper.make_node("Add", ["s", "q"], ["x"])],
                  [z_input(), z_input(name="y"), z_input(name="q")], [out()])
    refused(three, "3 inputs")
    two_floats = graph([helper.make_node("Add", ["z", "y"], ["x"])],
                       [z_input(), z_input(name="y")], [out()])
    refused(two_floats, "one float tensor z")
    twice = graph([helper.make_node("Relu", ["z"], ["x"]), helper.make_node("Neg", ["z"], ["y"])],
                  [z_input()], [out(), out(name="y")])
    refused(twice, "2 outputs")


def test_outputs_of_the_wrong_type_shape_or_value():
    as_int = graph([helper.make_node("Cast", ["z"], ["x"], to=TensorProto.INT64)],
                   [z_input()], [out(kind=TensorProto.INT64)])
    refused(as_int, "not a float tensor")
    refused(graph([helper.make_node("Relu", ["z"], ["x"])], [z_input()], [out()]),
            "shape (4,)")  # (N, 4): neither points nor images
    refused(images(channels=2), "1 or 3 channels")
    nan = points(extra_nodes=[helper.make_node("Mul", ["x", "nan"], ["y"])],
                 weights=[weight("nan", np.nan)])
    refused(nan, "NaN")
    refused(images(last="Relu", scale=255.0), "lie in")  # 0-255 images


def test_latent_sizes():
    refused(points(("batch", 2000)), "latent sizes from 1 to 1024")
    refused(points(("batch", "n")), "no fixed latent size")
    assert load_onnx_model(points(("batch", "n")), latent_dim=3).latent_dim == 3
    refused(points(("batch", 3)), "not the 5 given", latent_dim=5)


def test_image_sides():
    refused(images(side=2), "sides from 4 to 128")
    refused(images(side=256), "sides from 4 to 128")


def test_a_fixed_batch_and_a_4d_z_are_run_in_pieces():
    fixed = points(latent_dims=(1, 3))
    model = load_onnx_model(fixed)
    z = torch.randn(5, 3)
    assert torch.allclose(model.generate(z), z.sum(1, keepdim=True).expand(5, 2), atol=1e-5)
    four = graph([helper.make_node("Reshape", ["z", "flat"], ["f"]),
                  helper.make_node("MatMul", ["f", "w"], ["x"])],
                 [z_input(("batch", 3, 1, 1))], [out()],
                 [weight("w", np.ones((3, 2))),
                  numpy_helper.from_array(np.array([-1, 3], np.int64), "flat")])
    assert load_onnx_model(four).generate(z).shape == (5, 2)


def test_conditional_metadata_is_checked():
    def conditional(props):
        nodes = [helper.make_node("Cast", ["labels"], ["lf"], to=TensorProto.FLOAT),
                 helper.make_node("Unsqueeze", ["lf", "axis"], ["lu"]),
                 helper.make_node("MatMul", ["z", "w"], ["p"]),
                 helper.make_node("Add", ["p", "lu"], ["x"])]
        labels = helper.make_tensor_value_info("labels", TensorProto.INT64, ["batch"])
        return graph(nodes, [z_input(("batch", 3)), labels], [out()],
                     [weight("w", np.ones((3, 2))),
                      numpy_helper.from_array(np.array([1], np.int64), "axis")], props=props)

    refused(conditional(None), "how many classes")
    refused(conditional({"num_classes": "ten"}), "not a whole number")
    refused(conditional({"num_classes": "0"}), "from 1 to")
    model = load_onnx_model(conditional({"num_classes": "4"}))
    result = model.generate(torch.zeros(3, 3), torch.tensor([0, 1, 3]))
    assert torch.equal(result[:, 0], torch.tensor([0.0, 1.0, 3.0]))


def test_an_unknown_dataset_in_the_metadata_is_ignored_with_a_note():
    data = graph([helper.make_node("MatMul", ["z", "w"], ["x"])], [z_input(("batch", 3))],
                 [out()], [weight("w", np.ones((3, 2)))], props={"dataset": "digits"})
    model = load_onnx_model(data)  # digits are images, these are points
    assert model.dataset == "" and "ignored" in onnxmodel.onnx_notes(model)[0]


def test_any_latent_model_gives_brought_samples(trained):
    checkpoint, _ = trained
    brought = generator_samples(checkpoint, 30, seed=1)
    assert brought.kind == "images" and brought.images.shape == (30, 1, 8, 8)
    with pytest.raises(OnnxError):
        generator_samples(checkpoint, 0)
    assert isinstance(checkpoint, LatentModel)
