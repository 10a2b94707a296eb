"""PacGAN's Table 1 for the 2D mixtures: its measures, exactly as published, its numbers, and the
same table for the project's runs (mean ± standard error over seeds).

The measures follow PacGAN (Lin, Khetan, Fanti & Oh, "PacGAN: The power of two samples in
generative adversarial networks", NeurIPS 2018, section 5.1, after VEEGAN, Srivastava et al.
2017) and the authors' released evaluation code (github.com/fjxmlzn/PacGAN,
synthetic_data_experiments): 2,500 samples are drawn; a sample is *high quality* when its
distance to the nearest mode centre is below 3σ (strictly); a mode is *covered* when it is the
nearest centre of at least one high-quality sample; the *reverse KL* is KL(q ‖ p) between q, the
histogram of the high-quality samples over their nearest modes normalised to sum to 1, and p, the
true (uniform) mode distribution, with the convention 0·log 0 = 0 (empty modes add nothing).

`playground.measures.metrics.coverage_2d` is the project's everyday version of the same measures; it
differs in two details that matter only on constructed inputs (≤ 3σ instead of < 3σ, and a
pseudo-count ε = 1e-6 in every bin), and adds the stricter "modes held". This module keeps the
published definitions exactly, so that the project's rows sit beside PacGAN's on equal terms.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence

import numpy as np

from playground.measures.metrics import coverage_2d
from playground.storage.checkpoints import load_checkpoint

SAMPLES = 2500  # PacGAN, section 5.1: "2,500 samples from the trained generator"
HQ_STDS = 3.0  # high quality: within 3 standard deviations of the nearest mode centre
COLUMNS = ("modes", "high_quality", "reverse_kl")
COLUMN_LABELS = {"modes": "modes", "high_quality": "high quality", "reverse_kl": "reverse KL"}

# PacGAN (Lin et al. 2018), Table 1: "Two measures of mode collapse ... for the ring (2D-ring)
# and the grid (2D-grid) of Gaussians, averaged over 10 trials". Per row: ring (modes of 8,
# high-quality share, reverse KL) and grid (modes of 25, high-quality share, reverse KL). The
# paper's ring has radius 1 and σ 0.01; the project's has radius 2 and σ 0.02 (the same shape
# scaled by 2, which scales nothing in these measures). The grids are the same (spacing 2, σ 0.05).
PUBLISHED_SOURCE = (
    "PacGAN (Lin, Khetan, Fanti & Oh, NeurIPS 2018), Table 1, averaged over 10 trials"
)
PUBLISHED_MODES = {"ring8": 8, "grid25": 25}
PUBLISHED: dict[str, dict[str, dict[str, float]]] = {
    "ring8": {
        "GAN": {"modes": 6.3, "high_quality": 0.982, "reverse_kl": 0.45},
        "ALI": {"modes": 6.6, "high_quality": 0.976, "reverse_kl": 0.36},
        "PacGAN2": {"modes": 7.9, "high_quality": 0.956, "reverse_kl": 0.07},
        "PacGAN3": {"modes": 7.8, "high_quality": 0.977, "reverse_kl": 0.10},
        "PacGAN4": {"modes": 7.8, "high_quality": 0.959, "reverse_kl": 0.07},
    },
    "grid25": {
        "GAN": {"modes": 17.3, "high_quality": 0.948, "reverse_kl": 0.70},
        "ALI": {"modes": 24.1, "high_quality": 0.957, "reverse_kl": 0.14},
        "PacGAN2": {"modes": 23.8, "high_quality": 0.913, "reverse_kl": 0.13},
        "PacGAN3": {"modes": 24.6, "high_quality": 0.942, "reverse_kl": 0.06},
        "PacGAN4": {"modes": 24.8, "high_quality": 0.936, "reverse_kl": 0.04},
    },
}


def measures(samples, centres, sigma: float) -> dict:
    """PacGAN's measures of `samples` (N, 2) against mixture `centres` (M, 2) of std `sigma`:
    modes (covered), high_quality (share of the N samples), reverse_kl, and the histogram
    `mode_counts`. With no high-quality sample q is undefined; reverse_kl is then log M, the
    value of a total collapse onto one mode, so that nothing reads better than it is."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1, 2)
    c = np.asarray(centres, dtype=np.float64)
    m = len(c)
    dist = np.sqrt(((x[:, None, :] - c[None, :, :]) ** 2).sum(-1))  # (N, M)
    nearest = dist.argmin(axis=1)
    hq = dist[np.arange(len(x)), nearest] < HQ_STDS * sigma
    counts = np.bincount(nearest[hq], minlength=m)
    n_hq = int(counts.sum())
    if n_hq:
        q = counts[counts > 0] / n_hq
        kl = float(np.sum(q * np.log(q * m)))  # Σ q log(q / p) with p = 1/M
    else:
        kl = math.log(m)
    return {
        "modes": int((counts > 0).sum()),
        "modes_total": m,
        "high_quality": n_hq / max(len(x), 1),
        "reverse_kl": max(0.0, kl),
        "mode_counts": counts.tolist(),
    }


def mean_and_error(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (sample std / √n; 0 for a single value)."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return math.nan, math.nan
    se = float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else 0.0
    return float(v.mean()), se


def summarise(results: Iterable[dict]) -> dict:
    """Mean and standard error per column over per-seed `measures` results, plus `n` and, when
    the results carry them, modes held (the project's strict count) and seconds per seed (wall
    and processor)."""
    results = list(results)
    out: dict = {"n": len(results)}
    for key in COLUMNS + ("modes_held", "seconds", "cpu_seconds"):
        values = [r[key] for r in results if key in r]
        if values:
            out[key] = mean_and_error(values)
    return out


def format_cell(column: str, mean: float, se: float | None = None) -> str:
    """One table cell: modes with one decimal, shares as percents, reverse KL with 3 decimals."""
    if column == "high_quality":
        text = f"{100 * mean:.1f}%" if se is None else f"{100 * mean:.1f} ± {100 * se:.1f}%"
    elif column == "reverse_kl":
        text = f"{mean:.2f}" if se is None else f"{mean:.3f} ± {se:.3f}"
    else:
        text = f"{mean:.1f}" if se is None else f"{mean:.2f} ± {se:.2f}"
    return text


def table_rows(dataset: str, project_rows: dict[str, dict]) -> list[dict[str, str]]:
    """The table for one dataset as rows of text cells: PacGAN's published rows, then the
    project's (`project_rows`: row name -> `summarise` output), each cell mean ± s.e."""
    rows = []
    for name, values in PUBLISHED.get(dataset, {}).items():
        row = {"row": f"{name} (published)", "seeds": "10"}
        row.update({COLUMN_LABELS[c]: format_cell(c, values[c]) for c in COLUMNS})
        rows.append(row)
    for name, summary in project_rows.items():
        row = {"row": name, "seeds": str(summary["n"])}
        for c in COLUMNS:
            row[COLUMN_LABELS[c]] = format_cell(c, *summary[c]) if c in summary else "–"
        if "modes_held" in summary:
            row["modes held"] = format_cell("modes", *summary["modes_held"])
        rows.append(row)
    return rows


def format_table(rows: list[dict[str, str]]) -> str:
    """Rows of text cells as an aligned plain-text table (columns in first-seen order)."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    widths = {c: max(len(c), *(len(r.get(c, "")) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines.append("  ".join("-" * widths[c] for c in columns))
    lines += ["  ".join(r.get(c, "").ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


# ---------------------------------------------------------------------- saved runs
# Settings that do not change what a run learns (or that tell its seeds apart): runs that
# differ only in these are seeds of one table row.
_NOT_THE_RECIPE = ("seed", "device", "log_every", "sample_every", "eval_every", "fast_paths")


def recipe_key(cfg) -> str:
    """What makes two runs the same table row: their settings but the seed and bookkeeping."""
    settings = {k: v for k, v in cfg.to_dict().items() if k not in _NOT_THE_RECIPE}
    return json.dumps(settings, sort_keys=True)


def group_runs(configs: dict[str, object]) -> dict[str, list[str]]:
    """Run names (name -> GANConfig, Gaussian mixtures only) grouped into table rows, in order
    of first appearance: {row name: [run names]}. A row is named after its first run."""
    groups: dict[str, list[str]] = {}
    for name, cfg in configs.items():
        if cfg.dataset in PUBLISHED:
            groups.setdefault(recipe_key(cfg), []).append(name)
    rows = {}
    for names in groups.values():
        more = f" + {len(names) - 1} more seed{'s' if len(names) > 2 else ''}" if names[1:] else ""
        rows[names[0] + more] = names
    return rows


def measure_checkpoint(folder, seed: int = 0) -> dict:
    """PacGAN's measures (and modes held) of a saved 2D-mixture run, on SAMPLES samples."""
    trainer = load_checkpoint(folder, device="cpu", with_optimizers=False)
    if trainer.data.centres is None:
        raise ValueError(f"{trainer.cfg.dataset} has no mode centres: PacGAN's table needs "
                         f"ring8 or grid25")
    samples = trainer.sample(SAMPLES, seed=seed).numpy()
    centres, sigma = trainer.data.centres.cpu().numpy(), trainer.data.sigma
    result = measures(samples, centres, sigma)
    result["modes_held"] = coverage_2d(samples, centres, sigma)["modes_held"]
    return result
