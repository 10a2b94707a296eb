"""A generator trained elsewhere, brought as an ONNX graph, explored and diagnosed like a
playground checkpoint.

`load_onnx_model` turns an .onnx file (a path or its bytes) into a `latent.LatentModel` whose
generator is `OnnxGenerator`: a torch module that feeds z (and the labels) to an onnxruntime
session on the CPU and hands back its output as a tensor. Nothing but the ONNX runtime runs:
the file is a protobuf of tensors and standard operators, read without unpickling, and no
custom-operator library is ever registered.

A brought file is hostile until proven otherwise. Before a session is made, the file's size,
its protobuf, its inputs and outputs, its operator domains and every tensor's storage are
checked; a graph whose tensors live in outside files (ONNX "external data") is refused, since
the runtime would read whatever path the graph names. One probe batch then tells the output's
kind and shape: (N, 2) points, or (N, C, H, W) images with C 1 or 3, in [-1, 1] (a tanh) or in
[0, 1] (a sigmoid, mapped to [-1, 1] with a note). Every refusal is an `OnnxError`: one line
saying what is wrong and how to export the generator so that it is not.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from playground.data import registry as datasets
from playground.data.brought import MAX_SAMPLES, Brought
from playground.data.source import DataSource
from playground.latent import LatentModel
from playground.measures.brought import Diagnosis, Progress, diagnose_samples
from playground.measures.evaluation import DIAGNOSE_SAMPLES
from playground.training.generator_state import N_REAL
from playground.views.view2d import plot_window

MAX_ONNX_BYTES = 200 * 2**20  # the file, read whole into memory
MIN_LATENT, MAX_LATENT = 1, 1024  # the playground's own latent sizes (settings' latent_dim)
MIN_SIDE, MAX_SIDE = 4, 128  # image sides; the explorer's directions hold 512 samples at once
MAX_CLASSES = 10_000  # as a checkpoint's num_classes
CHANNELS = (1, 3)
PROBE = 64  # samples in the probe batch, which is also the fixed noise batch
RUN_BATCH = 256  # at most this many samples per call into the session (bounds its memory)
RANGE_SLACK = 0.05  # a tanh or sigmoid output overshoots only by rounding
STANDARD_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")
# Operators that move values without changing them, looked through to find the output's last
# activation.
RESHAPING = ("Reshape", "Flatten", "Identity", "Transpose", "Squeeze", "Unsqueeze", "Cast")
EXPORT_HINT = "export it with torch.onnx.export(..., external_data=False)"

# onnx.TensorProto element types of the inputs and outputs we feed and read.
_FLOATS = {1: np.float32, 10: np.float16, 11: np.float64}
_INTEGERS = {6: np.int32, 7: np.int64}


class OnnxError(ValueError):
    """An ONNX generator cannot be used; the message is one line saying why."""


@dataclass(frozen=True)
class GraphFacts:
    """What the checks learnt from the graph before any of it runs."""

    z_name: str
    z_dtype: type
    z_rank: int  # 2 for (N, d), 4 for (N, d, 1, 1) as pytorch/examples' DCGAN takes it
    latent_dim: int
    batch: int | None  # a fixed batch size the graph was exported with, else None
    labels_name: str | None
    labels_dtype: type | None
    num_classes: int
    dataset: str  # the metadata's "dataset" (checked against the registry later)
    last_op: str  # the operator making the output ("Tanh", "Sigmoid", …), reshapes skipped
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------- the module
class OnnxGenerator(torch.nn.Module):
    """z (N, latent_dim) [+ labels (N,)] -> samples (N, *shape) float32, by onnxruntime.

    No parameters and no autograd: the explorer only reads it under inference mode. Calls are
    split into batches of at most RUN_BATCH (or of the graph's fixed batch size, padding the
    last), and every output is checked finite."""

    def __init__(self, session, facts: GraphFacts):
        super().__init__()
        self.session = session  # onnxruntime.InferenceSession: its run() is thread-safe
        self.facts = facts
        self.kind = ""  # "points" or "images", set by the probe
        self.from_unit = False  # images in [0, 1], mapped to [-1, 1]
        self.notes: list[str] = list(facts.notes)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        n = z.shape[0]
        step = self.facts.batch or RUN_BATCH
        outs = []
        for start in range(0, n, step):
            outs.append(self._run(z[start:start + step], None if labels is None
                                  else labels[start:start + step]))
        out = torch.cat(outs) if outs else torch.zeros(0)
        if self.kind == "images":
            if self.from_unit:
                out = out * 2 - 1
            out = out.clamp(-1, 1)
        return out

    def _run(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        facts, n = self.facts, z.shape[0]
        zs = z.detach().cpu().numpy().astype(facts.z_dtype)
        lab = None if labels is None else labels.detach().cpu().numpy().astype(facts.labels_dtype)
        if facts.batch is not None and n < facts.batch:  # a fixed batch: pad, then cut
            zs = np.concatenate([zs, np.zeros((facts.batch - n, zs.shape[1]), zs.dtype)])
            if lab is not None:
                lab = np.concatenate([lab, np.zeros(facts.batch - n, lab.dtype)])
        feed = {facts.z_name: zs.reshape(len(zs), -1, *([1] * (facts.z_rank - 2)))}
        if facts.labels_name is not None:
            feed[facts.labels_name] = (lab if lab is not None
                                       else np.zeros(len(zs), facts.labels_dtype))
        try:
            (out,) = self.session.run(None, feed)
        except Exception as exc:  # the runtime's own error, in one line
            raise OnnxError(f"the ONNX generator failed to run: {_first_line(exc)}") from None
        if not isinstance(out, np.ndarray) or out.dtype not in (np.float32, np.float16,
                                                                 np.float64):
            raise OnnxError("the ONNX generator's output is not a float tensor")
        if out.ndim < 1 or out.shape[0] != len(zs):
            raise OnnxError(f"the ONNX generator gave {out.shape[0] if out.ndim else 0} samples "
                            f"for {len(zs)} latents: its first axis must be the batch")
        if not np.isfinite(out).all():
            raise OnnxError("the ONNX generator's output holds NaN or inf")
        return torch.from_numpy(np.ascontiguousarray(out[:n], dtype=np.float32))


# ---------------------------------------------------------------------- loading
def load_onnx_model(
    source: str | os.PathLike | bytes,
    latent_dim: int | None = None,
    num_classes: int | None = None,
) -> LatentModel:
    """The generator in an .onnx file (a path, or the file's bytes) as a LatentModel on the CPU.

    `latent_dim` is needed only when the graph's z has no fixed size, `num_classes` only when
    the graph takes labels and its metadata has no "num_classes". Raises OnnxError."""
    data = _read(source)
    model = _parse(data)
    facts = _graph_facts(model, latent_dim, num_classes)
    generator = OnnxGenerator(_session(data), facts).eval().requires_grad_(False)
    fixed_z = torch.randn(PROBE, facts.latent_dim, generator=torch.Generator().manual_seed(0))
    fixed_labels = torch.arange(PROBE) % facts.num_classes if facts.num_classes else None
    shape = _probe(generator, fixed_z, fixed_labels)
    dataset, real, extent = _dataset_facts(generator, facts, shape)
    return LatentModel(
        generator=generator,
        latent_dim=facts.latent_dim,
        num_classes=facts.num_classes,
        kind=generator.kind,
        shape=shape,
        step=0,
        dataset=dataset,
        extent=extent,
        real=real,
        fixed_z=fixed_z,
        fixed_labels=fixed_labels,
    )


def onnx_notes(model: LatentModel) -> list[str]:
    """What loading an ONNX generator found or changed (empty for any other model)."""
    return list(model.generator.notes) if isinstance(model.generator, OnnxGenerator) else []


def _read(source: str | os.PathLike | bytes) -> bytes:
    limit = f"{MAX_ONNX_BYTES // 2**20} MB"
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise OnnxError(f"{path} does not exist or is not a file")
        if path.stat().st_size > MAX_ONNX_BYTES:
            raise OnnxError(f"{path.name} is larger than {limit}, the most an ONNX generator "
                            "may be")
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_ONNX_BYTES + 1)
        except OSError as exc:
            raise OnnxError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_ONNX_BYTES:
        raise OnnxError(f"the file is larger than {limit}, the most an ONNX generator may be")
    if not data:
        raise OnnxError("the file is empty")
    return data


def _parse(data: bytes):
    """The ModelProto, refused unless every tensor is inside the file and every operator is a
    standard one (or a function the file itself defines from standard ones)."""
    import onnx
    from google.protobuf.message import DecodeError

    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError):
        raise OnnxError("this is not an ONNX model (its protobuf cannot be read)") from None
    if model.ir_version <= 0 or not model.opset_import or not model.graph.node:
        raise OnnxError("this is not an ONNX model (no graph, IR version or opset)")
    outside = _external_tensor(model)
    if outside:
        raise OnnxError(f"the graph keeps tensor {outside!r} in an outside file (external "
                        f"data), which is not read; {EXPORT_HINT}")
    _check_domains(model)
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx.checker.ValidationError and its relatives
        raise OnnxError(f"this ONNX model is invalid: {_first_line(exc)}") from None
    return model


def _graphs(model):
    """Every graph of the model: the main one and every subgraph (If, Loop and Scan bodies),
    also those inside model-local functions."""
    stack = [model.graph, *_subgraphs(n for f in model.functions for n in f.node)]
    while stack:
        graph = stack.pop()
        yield graph
        stack.extend(_subgraphs(graph.node))


def _subgraphs(nodes) -> list:
    found = []
    for node in nodes:
        for attr in node.attribute:
            if attr.HasField("g"):
                found.append(attr.g)
            found.extend(attr.graphs)
    return found


def _nodes(model):
    for graph in _graphs(model):
        yield from graph.node
    for function in model.functions:
        yield from function.node


def _external_tensor(model) -> str:
    """The name of a tensor stored outside the file, or "" when there is none."""

    def outside(tensor) -> bool:
        return tensor.data_location == 1 or len(tensor.external_data) > 0  # 1: EXTERNAL

    for graph in _graphs(model):
        tensors = [*graph.initializer]
        tensors += [s.values for s in graph.sparse_initializer]
        tensors += [s.indices for s in graph.sparse_initializer]
        for node in graph.node:
            for attr in node.attribute:
                tensors += [attr.t, *attr.tensors]
                for sparse in (attr.sparse_tensor, *attr.sparse_tensors):
                    tensors += [sparse.values, sparse.indices]
        for tensor in tensors:
            if outside(tensor):
                return tensor.name or "(unnamed)"
    for function in model.functions:
        for node in function.node:
            for attr in node.attribute:
                for tensor in (attr.t, *attr.tensors):
                    if outside(tensor):
                        return tensor.name or "(unnamed)"
    return ""


def _check_domains(model) -> None:
    local = {(f.domain, f.name) for f in model.functions}
    for node in _nodes(model):
        if node.domain in STANDARD_DOMAINS or (node.domain, node.op_type) in local:
            continue
        raise OnnxError(f"the graph uses operator {node.op_type!r} of the custom domain "
                        f"{node.domain!r}; only standard ONNX operators are run")


def _graph_facts(model, latent_dim: int | None, num_classes: int | None) -> GraphFacts:
    graph = model.graph
    stored = {t.name for t in graph.initializer} | {s.values.name for s in
                                                     graph.sparse_initializer}
    inputs = [i for i in graph.input if i.name not in stored]  # old IRs list weights as inputs
    if not 1 <= len(inputs) <= 2:
        raise OnnxError(f"the graph has {len(inputs)} inputs; a generator takes z, and the "
                        "class labels if it is conditional (1 or 2 inputs)")
    if len(graph.output) != 1:
        raise OnnxError(f"the graph has {len(graph.output)} outputs; a generator gives one "
                        "(its samples)")
    floats = [i for i in inputs if _elem_type(i) in _FLOATS]
    integers = [i for i in inputs if _elem_type(i) in _INTEGERS]
    if len(floats) != 1 or len(floats) + len(integers) != len(inputs):
        raise OnnxError("the graph's inputs must be one float tensor z and, for a conditional "
                        "generator, one integer tensor of labels")
    z = floats[0]
    dims = _dims(z)
    if dims is None or not (len(dims) == 2 or (len(dims) == 4 and dims[2:] == [1, 1])):
        raise OnnxError(f"the graph's input {z.name!r} must be z of shape (batch, latent size), "
                        f"got {_shown(dims)}")
    dim = dims[1] if isinstance(dims[1], int) else None
    if dim is None and latent_dim is None:
        raise OnnxError(f"the graph's input {z.name!r} has no fixed latent size "
                        f"({_shown(dims)}): export it with a fixed-size example z, or give "
                        "the latent size")
    if dim is not None and latent_dim is not None and dim != latent_dim:
        raise OnnxError(f"the graph's z has {dim} dimensions, not the {latent_dim} given")
    dim = dim if dim is not None else int(latent_dim)
    if not MIN_LATENT <= dim <= MAX_LATENT:
        raise OnnxError(f"the graph's z has {dim} dimensions; the playground explores latent "
                        f"sizes from {MIN_LATENT} to {MAX_LATENT}")
    batch = dims[0] if isinstance(dims[0], int) else None
    if batch is not None and not 1 <= batch <= RUN_BATCH:
        raise OnnxError(f"the graph's fixed batch size is {batch}; export it with a dynamic "
                        f"batch (dynamic_axes) or a batch of at most {RUN_BATCH}")
    meta = {p.key: p.value for p in model.metadata_props}
    labels = integers[0] if integers else None
    classes = 0
    if labels is not None:
        label_dims = _dims(labels)
        if label_dims is None or len(label_dims) != 1:
            raise OnnxError(f"the graph's label input {labels.name!r} must have shape (batch,), "
                            f"got {_shown(label_dims)}")
        classes = _class_count(meta.get("num_classes"), num_classes)
    return GraphFacts(
        z_name=z.name,
        z_dtype=_FLOATS[_elem_type(z)],
        z_rank=len(dims),
        latent_dim=dim,
        batch=batch,
        labels_name=None if labels is None else labels.name,
        labels_dtype=None if labels is None else _INTEGERS[_elem_type(labels)],
        num_classes=classes,
        dataset=meta.get("dataset", "").strip(),
        last_op=_last_op(graph),
    )


def _class_count(stored: str | None, given: int | None) -> int:
    if stored is not None:
        try:
            count = int(stored.strip())
        except ValueError:
            raise OnnxError(f"the graph's metadata num_classes {stored[:40]!r} is not a whole "
                            "number") from None
    elif given is not None:
        count = int(given)
    else:
        raise OnnxError("the graph takes class labels but does not say how many classes: add "
                        "metadata num_classes to the file, or give the class count")
    if not 1 <= count <= MAX_CLASSES:
        raise OnnxError(f"num_classes must be from 1 to {MAX_CLASSES}, got {count}")
    return count


def _elem_type(value_info) -> int:
    kind = value_info.type.WhichOneof("value")
    return value_info.type.tensor_type.elem_type if kind == "tensor_type" else -1


def _dims(value_info) -> list[int | str] | None:
    """The input's shape: an int per fixed axis, a name (or "?") per free one; None when its
    rank is unknown."""
    tensor = value_info.type.tensor_type
    if not tensor.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else (d.dim_param or "?")
            for d in tensor.shape.dim]


def _shown(dims: list | None) -> str:
    return "an unknown shape" if dims is None else "(" + ", ".join(map(str, dims)) + ")"


def _session(data: bytes):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: a refusal is our one line, not its log
    options.intra_op_num_threads = max(1, torch.get_num_threads())
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.load_model_format", "ONNX")  # never ORT format
    try:
        return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # an operator the runtime lacks, a malformed graph, …
        raise OnnxError(f"onnxruntime cannot run this graph: {_first_line(exc)}") from None


def _probe(generator: OnnxGenerator, z: torch.Tensor, labels: torch.Tensor | None
           ) -> tuple[int, ...]:
    """Run the fixed batch once: the output's kind, shape and range."""
    with torch.inference_mode():
        out = generator(z, labels)
    shape = tuple(out.shape[1:])
    if shape == (2,):
        generator.kind = "points"
        return shape
    if len(shape) != 3 or shape[0] not in CHANNELS:
        raise OnnxError(f"the generator's samples have shape {shape}; the playground takes 2D "
                        "points (N, 2) or images (N, C, H, W) with 1 or 3 channels")
    if not all(MIN_SIDE <= side <= MAX_SIDE for side in shape[1:]):
        raise OnnxError(f"the generator's images are {shape[1]}×{shape[2]}; the playground "
                        f"takes sides from {MIN_SIDE} to {MAX_SIDE} pixels")
    low, high = float(out.min()), float(out.max())
    if low < -1 - RANGE_SLACK or high > 1 + RANGE_SLACK:
        raise OnnxError(f"the generator's images lie in [{low:.3g}, {high:.3g}]; the playground "
                        "takes images in [-1, 1] (a tanh output) or [0, 1] (a sigmoid)")
    generator.kind = "images"
    last = generator.facts.last_op
    if last == "Sigmoid":
        generator.from_unit = True
        generator.notes.append("the graph ends in a sigmoid: its images in [0, 1] are mapped "
                               "to [-1, 1], the range the playground's images have")
    elif last != "Tanh" and low >= 0:  # no telling activation: the probe's range decides
        generator.from_unit = True
        generator.notes.append(f"the probe images lie in [{low:.2f}, {high:.2f}], so the "
                               "generator's range is taken as [0, 1] and mapped to [-1, 1]")
    return shape


def _last_op(graph) -> str:
    """The operator that makes the output, looking through the ones that only move values
    (a Tanh followed by a Reshape ends in Tanh)."""
    producers = {out: node for node in graph.node for out in node.output}
    name = graph.output[0].name
    for _ in range(len(graph.node)):
        node = producers.get(name)
        if node is None:
            return ""
        if node.op_type not in RESHAPING or not node.input:
            return node.op_type
        name = node.input[0]
    return ""


def _dataset_facts(generator: OnnxGenerator, facts: GraphFacts, shape: tuple[int, ...]):
    """(dataset, real points, 2D window): the metadata's dataset when the playground knows it
    and it fits the samples; a 2D generator without one gets a window fitted to its own
    samples."""
    name = facts.dataset
    entry = datasets.DATASETS.get(name) if name else None
    fits = (entry is not None and not entry.user_folder and not entry.user_points
            and entry.kind == generator.kind
            and (not facts.num_classes or facts.num_classes == entry.num_classes))
    if name and not fits:
        generator.notes.append(f"the graph's metadata names the dataset {name[:40]!r}, which "
                               "is not one the playground knows for these samples: ignored")
    if generator.kind != "points":
        return (name if fits else ""), None, None
    if fits:
        source = datasets.points_source(name, "cpu")
    else:  # the window around the generator's own samples, drawn with a fixed seed
        gen = torch.Generator().manual_seed(1)
        z = torch.randn(N_REAL, facts.latent_dim, generator=gen)
        labels = torch.arange(N_REAL) % facts.num_classes if facts.num_classes else None
        with torch.inference_mode():
            own = generator(z, labels)
        source = DataSource(name="onnx", kind="points", shape=(2,), num_classes=0,
                            centres=None, sigma=None, device="cpu", points=own)
        return "", None, plot_window(source)
    real, _ = source.sample(N_REAL, torch.Generator().manual_seed(0))
    return name, real.float().numpy(), plot_window(source)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[0] if lines else type(exc).__name__)[:300]


# ---------------------------------------------------------------------- diagnosis
def generator_samples(model: LatentModel, n: int, seed: int = 0) -> Brought:
    """n samples of any LatentModel, drawn with `seed`, as brought samples to diagnose."""
    if not 1 <= n <= MAX_SAMPLES:
        raise OnnxError(f"a diagnosis draws from 1 to {MAX_SAMPLES:,} samples, not {n}")
    out = model.sample(n, seed)
    note = f"{n:,} samples drawn from the generator with seed {seed}"
    notes = [note, *onnx_notes(model)]
    if model.kind == "points":
        return Brought("points", points=out.double().numpy(), notes=notes)
    return Brought("images", images=out.contiguous(), notes=notes)


def diagnose_generator(
    source: str | os.PathLike | bytes,
    real: str | None = None,
    n: int = DIAGNOSE_SAMPLES,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: Progress | None = None,
) -> Diagnosis:
    """Load the ONNX generator in `source`, draw n samples from noise seeded by `seed` and
    diagnose them against `real` (a dataset name or a folder of real images; left out, the
    dataset the graph's metadata names). Raises OnnxError (or BroughtError from the diagnosis)."""
    if not 10 <= n <= MAX_SAMPLES:
        raise OnnxError(f"a diagnosis draws from 10 to {MAX_SAMPLES:,} samples, not {n}")
    if progress is not None:
        progress(0.0, "running the generator")
    model = load_onnx_model(source)
    real = real or model.dataset
    if not real:
        raise OnnxError("the generator's metadata names no dataset: say which real data to "
                        "compare with")
    return diagnose_samples(generator_samples(model, n, seed), real, seed=seed, device=device,
                            progress=progress)
