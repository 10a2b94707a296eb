"""Measures of an unpaired translation between two sets of 2D points (CycleGAN's): how many
points a round trip A → B → A brings back near where they started, and how well the translated
points match the other domain's distribution, so a map that leaves every point where it is (a
perfect round trip) is not mistaken for a good translation."""

from __future__ import annotations

from collections.abc import Callable

import torch

from playground.measures.metrics import point_measures_against

PointMap = Callable[[torch.Tensor], torch.Tensor]  # points (N, 2) -> points (N, 2)


def round_trip_distances(there: PointMap, back: PointMap, points: torch.Tensor) -> torch.Tensor:
    """‖back(there(x)) − x‖₂ for each point x of `points` (N, 2), in the data's units (N,)."""
    with torch.no_grad():
        returned = back(there(points))
    return (returned - points).norm(dim=-1)


def round_trip_share(
    there: PointMap, back: PointMap, points: torch.Tensor, tol: float
) -> float:
    """The share of `points` whose round trip back(there(x)) lands within `tol` of x (1: every
    point comes home; a map that scrambles which point goes where reads near 0)."""
    if len(points) == 0:
        raise ValueError("a round-trip share needs at least one point")
    return float((round_trip_distances(there, back, points) <= tol).double().mean())


def translation_match(
    there: PointMap, source: torch.Tensor, target: torch.Tensor, seed: int = 0
) -> dict:
    """How well there(source) matches the target domain's points: the project's 2D point
    measures of the translated points against `target` (precision: the share of translated
    points on the target's manifold; coverage: the share of the target's neighbourhoods that
    some translated point reaches), plus the median distance from a translated point to its
    nearest target point (data units)."""
    with torch.no_grad():
        moved = there(source)
    nearest = torch.cdist(moved.double(), target.double()).min(dim=1).values
    return point_measures_against(target, moved, seed=seed) | {
        "median_nearest": float(nearest.median())
    }
