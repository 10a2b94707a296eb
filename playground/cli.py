"""The command line: `gan-playground train | sample | presets | settings | diagnose | bench |
reproduce`.

Bad arguments exit with status 2 and one line on stderr; a run that cannot proceed (no network
for a download, a diverging run) exits with status 1 and one line. Never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from playground import bench
from playground.data.brought import MAX_SAMPLES, BroughtError
from playground.data.registry import DATASETS, names_where
from playground.data.source import DatasetUnavailable
from playground.errors import JSON_ERRORS, ConfigError, UsageError, json_problem
from playground.latent import load_latent_model
from playground.lessons import reproduce
from playground.lessons.reproduce import add_parser as add_reproduce
from playground.measures.brought import Diagnosis, diagnose_path
from playground.measures.evaluation import DIAGNOSE_SAMPLES, diagnose
from playground.measures.fid import INCEPTION_HINT, describe, inception_weights
from playground.measures.metrics import EXPLANATIONS
from playground.onnxmodel import OnnxError, diagnose_generator
from playground.runs import backends
from playground.settings.config import GANConfig
from playground.settings.fields import settings_table
from playground.settings.presets import PRESETS, preset
from playground.storage.checkpoints import CheckpointError, load_checkpoint
from playground.storage.diagnosis_report import write_html
from playground.training.devices import resolve_device
from playground.training.stepcore import Divergence
from playground.views import images


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse prints usage + message; we want one line
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gan-playground", description="Train and inspect GANs.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser("train", help="train a GAN and save a checkpoint folder")
    train.add_argument("--preset", choices=list(PRESETS), help="start from a named preset")
    train.add_argument("--config", type=Path, help="a JSON file of settings (over the preset)")
    train.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one setting (repeatable), e.g. --set lr_g=2e-4",
    )
    train.add_argument("--steps", type=int, help="total steps (also when resuming)")
    train.add_argument("--device", help="auto, cpu, cuda or mps")
    train.add_argument("--seed", type=int)
    train.add_argument("--resume", type=Path, metavar="DIR", help="continue from a checkpoint")
    train.add_argument(
        "--no-optimizers",
        action="store_true",
        help="save without optimiser state (smaller; cannot resume exactly)",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--out", type=Path, required=True, metavar="DIR")
    train.add_argument(
        "--backend",
        choices=("local", "ray"),
        help="where to train: here (local, the default) or on the Ray cluster at $RAY_ADDRESS "
        "(a local Ray when unset); default $GAN_PLAYGROUND_BACKEND",
    )

    sample = sub.add_parser("sample", help="write a grid of samples from a checkpoint")
    sample.add_argument("checkpoint", type=Path)
    sample.add_argument("--n", type=int, default=64)
    sample.add_argument("--out", type=Path, required=True)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--device", default="cpu")

    sub.add_parser("presets", help="list the presets")
    sub.add_parser("settings", help="list every setting --set takes: its range and if it is live")

    diagnose = sub.add_parser(
        "diagnose",
        help="mode-coverage measures of a checkpoint, or of samples brought from elsewhere",
    )
    diagnose.add_argument("checkpoint", type=Path, nargs="?")
    diagnose.add_argument(
        "--samples",
        metavar="N|PATH",
        help="with a CHECKPOINT: how many samples to draw (default 2500); without one: a folder "
        "or .zip of images, an .npy/.npz image array, a .csv/.npy of 2D points, or an .onnx "
        "generator that draws them",
    )
    diagnose.add_argument(
        "--n",
        type=int,
        help=f"with --samples GENERATOR.onnx: how many samples it draws (default "
        f"{DIAGNOSE_SAMPLES}), from noise seeded by --seed",
    )
    diagnose.add_argument(
        "--real",
        metavar="DATASET|FOLDER",
        help="what brought --samples are compared with: a dataset name or a folder of images",
    )
    diagnose.add_argument("--seed", type=int, default=0)
    diagnose.add_argument("--json", action="store_true")
    diagnose.add_argument(
        "--html",
        type=Path,
        metavar="FILE",
        help="with --samples: also write the diagnosis as one standalone HTML file (charts and "
        "pictures inside, no network needed to view it)",
    )
    diagnose.add_argument("--device", default="cpu")
    diagnose.add_argument(
        "--no-inception",
        action="store_true",
        help="skip the Inception-v3 FID/KID even when their weights are on disk (slow on a CPU)",
    )

    bench = sub.add_parser("bench", help="measure training speed and the live view's costs")
    bench.add_argument(
        "--device",
        default="auto",
        help="auto (the CPU rows, and the GPU rows when there is a GPU), cpu, cuda (the GPU "
        "rows only) or mps",
    )
    bench.add_argument("--quick", action="store_true", help="a short run (CI): rough figures")
    bench.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    bench.add_argument(
        "--threads", type=int, help="torch CPU threads (default: 1 with --quick, else torch's)"
    )
    bench.add_argument("--budget", type=float, metavar="SECONDS", help="seconds per measured block")
    bench.add_argument("--only", metavar="SECTIONS", help="e.g. overhead,multirun (default: all)")
    bench.add_argument(
        "--plot", type=Path, metavar="FILE", help="PNG of the learning curves (GPU section)"
    )

    add_reproduce(sub)
    return parser


def _assignments(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


def build_config(args: argparse.Namespace) -> GANConfig:
    """Preset, then config file, then --set, then the dedicated flags: later ones win."""
    cfg = preset(args.preset) if args.preset else GANConfig()
    if args.config:
        try:
            text = args.config.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise UsageError(f"cannot read --config {args.config}: {reason}") from None
        try:
            overrides = json.loads(text) if text.strip() else {}
        except JSON_ERRORS as exc:
            problem = json_problem(exc)
            raise UsageError(f"--config {args.config} is not valid JSON ({problem})") from None
        if not isinstance(overrides, dict):
            raise UsageError("--config must hold a JSON object of settings")
        cfg = cfg.replace(**overrides)
    cfg = cfg.with_strings(_assignments(args.assignments))
    flags = {
        k: getattr(args, k) for k in ("steps", "device", "seed") if getattr(args, k) is not None
    }
    return cfg.replace(**flags) if flags else cfg


def cmd_train(args: argparse.Namespace) -> int:
    """`train`: a run made by the same factory as the app's runs (a thread here, or an actor
    on the Ray cluster with --backend ray), followed to its end and saved to --out. On Ray the
    checkpoint comes back and is written here, so --out is a folder of this machine."""
    from tqdm import tqdm  # the progress bar, only for this command

    _check_out_folder(args.out)  # before the training, not after it
    on_ray = backends.backend_name(args.backend) == "ray"
    if on_ray and args.resume and (args.assignments or args.steps is not None or args.device):
        raise UsageError("--resume with --backend ray takes no --set, --steps or --device")
    try:
        if on_ray:
            run = (backends.make_run(resume_from=args.resume, backend="ray") if args.resume
                   else backends.make_run(build_config(args), backend="ray"))
        elif args.resume:  # on --device, with the --set and --steps changes, from its step
            trainer = load_checkpoint(args.resume, device=args.device)
            trainer.apply(_resume_changes(args, trainer.cfg))
            run = backends.make_run(trainer=trainer, pictures=False)
        else:
            run = backends.make_run(build_config(args), backend="local", pictures=False)
    except backends.ClusterUnavailable as exc:
        print(f"gan-playground: {exc}", file=sys.stderr)
        return 1
    try:
        run.start()
        bar = tqdm(total=run.config.steps, disable=args.quiet, unit="step", mininterval=0.5,
                   desc=run.config.dataset, file=sys.stderr)
        while not run.join(0.5):
            snap = run.snapshot()
            bar.total = snap.total_steps
            bar.update(snap.step - bar.n)
            losses = {k: v[-1] for k, v in snap.history.items() if k in ("d_loss", "g_loss") and v}
            bar.set_postfix_str(" ".join(f"{k[0]}={v:.3f}" for k, v in losses.items())
                                or snap.status, refresh=False)
        snap = run.snapshot()
        bar.update(snap.step - bar.n)
        bar.close()
        if snap.status == "diverged":
            raise Divergence(snap.error or "the run diverged")
        if snap.status == "error":
            print(f"gan-playground: {snap.error}", file=sys.stderr)
            return 1
        if snap.status != "finished":
            print(f"gan-playground: the run {snap.status}: {snap.error}", file=sys.stderr)
            return 1
        mixture = DATASETS[snap.config.dataset].is_mixture  # modes to count: the summary's
        report = run.measure(2500, 0) if mixture else None
        metrics = report.measures if report and "modes_held" in report.measures else {}
        run.save(args.out, with_optimizers=not args.no_optimizers, metrics=metrics)
    finally:
        run.discard()  # frees the models here, or the actor on the cluster, also on Ctrl-C
    summary = f"saved {args.out} at step {snap.step}"
    if on_ray:
        summary += " (trained on the Ray cluster)"
    if metrics:
        summary += f": {metrics['modes_held']}/{metrics['modes_total']} modes held"
    print(summary)
    return 0


def _check_out_folder(out: Path) -> None:
    """UsageError now when --out can never become a checkpoint folder: it names a file, or a
    folder under a file."""
    for place in (out, *out.parents):
        if place.exists():
            if not place.is_dir():
                what = f"--out {out}" if place == out else f"--out's parent {place}"
                raise UsageError(f"{what} is a file, not a folder: the checkpoint cannot be saved "
                                 "there")
            return


def _resume_changes(args: argparse.Namespace, cfg: GANConfig) -> dict:
    """The settings `train --resume` changes: --set (live settings only, config.LIVE_SETTINGS:
    anything else is refused by Trainer.apply, naming it) and --steps, which wins over --set."""
    for flag in ("preset", "config", "seed"):
        if getattr(args, flag) is not None:
            raise UsageError(f"--{flag} cannot be used with --resume: a resumed run keeps its "
                             "settings (change live ones with --set KEY=VALUE)")
    changes = {}
    if args.assignments:
        wanted = _assignments(args.assignments)
        parsed = cfg.with_strings(wanted)  # parses and validates each value, naming a bad one
        changes = {key: getattr(parsed, key) for key in wanted}
    if args.steps is not None:
        changes["steps"] = args.steps
    return changes


def _measures(trainer, n: int, seed: int, inception: bool = False) -> dict:
    return diagnose(trainer, n, seed, inception=inception).measures


# What `diagnose` prints, in order: (key, label). Counts show as "k/total", shares as percents.
_SHOWN = (
    ("modes_held", "modes held"),
    ("modes_covered", "modes covered"),
    ("high_quality_fraction", "high quality"),
    ("classes_covered", "classes covered"),
    ("classes_held", "classes held"),
    ("confident_fraction", "recognisable"),
    ("class_histogram", "class histogram"),
    ("reverse_kl", "reverse KL"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("density", "density"),
    ("coverage", "coverage"),
    ("kl_grid", "KL (grid)"),
    ("js_grid", "JS (grid)"),
    ("fid", "FID"),
    ("kid", "KID"),
    ("inception_score", "IS"),
    ("fid_inception", "FID (Inception-v3)"),
    ("kid_inception", "KID (Inception-v3)"),
    ("diversity_ratio", "diversity ratio"),
    ("duplicate_rate", "near-duplicates"),
    ("nearest_train_distance", "nearest training image"),
    ("nearest_train_ratio", "  relative to real"),
)
_PERCENT = ("high_quality_fraction", "confident_fraction", "duplicate_rate")


def _measure_lines(result: dict, dataset: str = "") -> list[str]:
    import textwrap

    names = describe(dataset) if dataset else {}
    lines = []
    for key, label in _SHOWN:
        if key not in result:
            continue
        label = names.get(key, label)
        value = result[key]
        total = result.get("modes_total" if key.startswith("modes_") else "classes_total")
        if key.startswith(("modes_", "classes_")):
            text = f"{value}/{total}"
        elif key == "class_histogram":
            text = " ".join(str(c) for c in value)
        elif key in _PERCENT:
            text = f"{value:.1%}"
        else:
            text = f"{value:.3f}"
        lines.append(f"  {label:<24}{text}" if len(label) < 24 else f"  {label}  {text}")
        lines += textwrap.wrap(
            EXPLANATIONS[key], 96, initial_indent=" " * 6, subsequent_indent=" " * 6
        )
    return lines


def cmd_sample(args: argparse.Namespace) -> int:
    if not 1 <= args.n <= 4096:
        raise UsageError("--n must be from 1 to 4096")
    # The generator alone: sampling never loads (or downloads) the training dataset.
    model = load_latent_model(args.checkpoint, device=resolve_device(args.device))
    out = model.sample(args.n, args.seed)
    if model.kind == "points":  # real points are generated in code, no files
        picture = images.scatter_image(out.numpy(), model.real, model.extent)
    else:
        picture = images.make_grid(images.to_uint8(out), upscale=2 if out.shape[-1] <= 32 else 1)
    images.save_png(picture, str(args.out))
    print(f"wrote {args.out} ({args.n} samples at step {model.step})")
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    print(settings_table())
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    width = max(map(len, PRESETS))
    for name, item in PRESETS.items():
        print(f"{name:<{width}}  {item.description}")
    return 0


def _inception_wanted(trainer, args: argparse.Namespace) -> bool:
    """Inception FID/KID for image checkpoints when the weights are on disk; when they are
    not, one line (on stderr, so --json stays clean) says how to get them."""
    if trainer.data.kind != "images" or args.no_inception:
        return False
    if inception_weights() is None:
        print(INCEPTION_HINT, file=sys.stderr)
        return False
    return True


def _sample_count(text: str | None) -> int | None:
    """--samples as a count, or None when it is not a whole number."""
    if text is None:
        return DIAGNOSE_SAMPLES
    try:
        return int(text)
    except ValueError:
        return None


def cmd_diagnose(args: argparse.Namespace) -> int:
    if args.checkpoint is None:
        return _diagnose_brought(args)
    if args.real is not None:
        raise UsageError("--real goes with --samples PATH and no CHECKPOINT: a checkpoint is "
                         "compared with its own dataset")
    if args.html is not None:
        raise UsageError("--html goes with --samples PATH (samples or a generator made "
                         "elsewhere); a checkpoint's pictures are on the Diagnostics page")
    if args.n is not None:
        raise UsageError("--n goes with --samples GENERATOR.onnx; with a CHECKPOINT the count "
                         "is --samples N")
    args.samples = _sample_count(args.samples)
    if args.samples is None:
        raise UsageError("--samples with a CHECKPOINT is a sample count from 10 to 100000")
    if not 10 <= args.samples <= 100_000:
        raise UsageError("--samples must be from 10 to 100000")
    trainer = load_checkpoint(args.checkpoint, device=args.device, with_optimizers=False)
    if trainer.data.kind == "points" and trainer.data.centres is None and len(trainer.data) == 0:
        raise UsageError(
            f"mode-collapse measures need a Gaussian-mixture dataset ({_mixtures()}) or "
            f"images; this checkpoint is '{trainer.cfg.dataset}'"
        )
    inception = _inception_wanted(trainer, args)
    result = _measures(trainer, args.samples, args.seed, inception)
    result["step"] = trainer.step
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{args.checkpoint} at step {trainer.step} ({trainer.cfg.dataset}, "
            f"{args.samples} samples)"
        )
        print("\n".join(_measure_lines(result, trainer.cfg.dataset)))
    return 0


def _diagnose_brought(args: argparse.Namespace) -> int:
    """`diagnose --samples PATH --real DATASET|FOLDER`: samples made elsewhere, measured."""
    if args.samples is None:
        raise UsageError("diagnose needs a CHECKPOINT, or --samples PATH with --real DATASET")
    if _sample_count(args.samples) is not None and not Path(args.samples).exists():
        raise UsageError("--samples N (a count) needs a CHECKPOINT; without one --samples is a "
                         "folder or file of samples")
    onnx = args.samples.lower().endswith(".onnx")
    if args.n is not None and not onnx:
        raise UsageError("--n goes with --samples GENERATOR.onnx (a generator that draws them)")
    try:
        if onnx:
            found = _diagnose_onnx(args)
        elif args.real is None:
            raise UsageError("--samples PATH needs --real DATASET or --real FOLDER to compare "
                             "with")
        else:
            found = diagnose_path(args.samples, args.real, seed=args.seed, device=args.device)
    except (BroughtError, OnnxError) as exc:
        raise UsageError(str(exc)) from None
    result = found.measures
    if args.html is not None:
        try:
            written = write_html(found, args.html, samples_name=Path(args.samples).name)
        except OSError as exc:
            raise UsageError(f"--html: cannot write {args.html}: {exc.strerror or exc}") from None
    if args.json:
        print(json.dumps(result))
        return 0
    if args.html is not None:
        print(f"report written to {written}")
    print(f"{args.samples} against {found.reference} ({result['samples']:,} samples)")
    for note in found.notes:
        print(f"  {note}")
    print(f"verdict: {found.verdict}: {found.reason}")
    print("\n".join(_measure_lines(result, found.reference if found.reference in DATASETS
                                    else "")))
    for cluster in result["duplicate_clusters"]:
        shown = ", ".join(str(i) for i in cluster["indices"][:12])
        more = ", …" if cluster["size"] > 12 else ""
        print(f"  near-copies of one image: {cluster['size']:,} samples ({cluster['share']:.1%}): "
              f"{shown}{more}")
    return 0


def _diagnose_onnx(args: argparse.Namespace) -> Diagnosis:
    """`diagnose --samples GENERATOR.onnx --real DATASET|FOLDER`: the generator draws --n
    samples from noise seeded by --seed; they are diagnosed as brought samples. --real may be
    left out when the graph's metadata names a dataset the playground knows."""
    n = DIAGNOSE_SAMPLES if args.n is None else args.n
    if not 10 <= n <= MAX_SAMPLES:
        raise UsageError(f"--n must be from 10 to {MAX_SAMPLES}")
    try:
        return diagnose_generator(args.samples, args.real, n, seed=args.seed, device=args.device)
    except OnnxError as exc:
        if args.real is None and "names no dataset" in str(exc):
            raise UsageError("--samples GENERATOR.onnx needs --real DATASET or --real FOLDER "
                             "to compare with (its metadata names no dataset)") from None
        raise


def cmd_bench(args: argparse.Namespace) -> int:
    return bench.main(args)


def cmd_reproduce(args: argparse.Namespace) -> int:
    return reproduce.main(args)


COMMANDS = {
    "train": cmd_train,
    "sample": cmd_sample,
    "presets": cmd_presets,
    "settings": cmd_settings,
    "diagnose": cmd_diagnose,
    "bench": cmd_bench,
    "reproduce": cmd_reproduce,
}


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except (UsageError, ConfigError, CheckpointError, json.JSONDecodeError) as exc:
        print(f"gan-playground: error: {exc}", file=sys.stderr)
        return 2
    except (DatasetUnavailable, Divergence) as exc:
        print(f"gan-playground: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. --out names a file, or a folder that cannot be created
        print(f"gan-playground: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("gan-playground: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())


def _mixtures() -> str:
    return ", ".join(names_where(mixture=True))
