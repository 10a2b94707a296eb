"""`python -m playground.classifier`: train (or retrain) the classifier a labelled image
dataset's measures use (playground/measures/classifier.py), and save it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playground.data.loading import DataSpec, load_dataset
from playground.data.registry import IMAGE_SIZES, names_where
from playground.measures.classifier import save_classifier, train_classifier


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m playground.classifier",
        description="Train (or retrain) the classifier of a labelled image dataset and save it.",
    )
    offline = names_where(labelled=True, offline=True)[0]  # works without a download
    labelled = names_where(kind="images", labelled=True)
    parser.add_argument("--dataset", choices=labelled, default=offline)
    parser.add_argument("--image-size", type=int, default=32, choices=IMAGE_SIZES)
    parser.add_argument("--grayscale", action="store_true")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, help="folder (default: checkpoints/classifiers)")
    args = parser.parse_args(argv)
    spec = DataSpec(dataset=args.dataset, image_size=args.image_size, grayscale=args.grayscale)
    data = load_dataset(spec, args.device)
    clf = train_classifier(data, args.dataset, steps=args.steps, seed=args.seed)
    path = save_classifier(clf, args.out)
    size = path.with_suffix(".safetensors").stat().st_size
    print(
        f"wrote {path} and its weights ({size / 1024:.0f} KiB): held-out accuracy "
        f"{clf.meta['test_accuracy']:.1%} after {clf.meta['steps']} steps "
        f"({clf.meta['train_seconds']} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
