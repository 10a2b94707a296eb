"""The logged series of a run and their bounded history.

`BoundedHistory` keeps every series of a run (or of one multi-run member) within a fixed number
of points, however long the run; `carry_forward` fills the series of a player that made no
update since the last log.
"""

from __future__ import annotations

import math

# Series recorded at every logged step (besides "step").
SERIES = ("d_loss", "g_loss", "d_real", "d_fake", "g_grad_norm", "d_grad_norm")


class BoundedHistory:
    """Logged series that never exceed `capacity` points.

    When full, neighbouring points are averaged in pairs and later records are averaged over
    twice as many logs before they are stored: the history covers the whole run at an even,
    coarsening resolution and its memory stays flat however long the run.
    """

    def __init__(
        self,
        keys: tuple[str, ...] = ("step",) + SERIES,
        capacity: int = 1000,
        optional: tuple[str, ...] = (),
    ):
        """`optional`: keys a saved history may lack (series added after it was written); a
        load gives them NaN, a gap in a chart, at every point."""
        self.keys, self.capacity = keys, max(4, capacity - capacity % 2)
        self.optional = optional
        self.data: dict[str, list[float]] = {k: [] for k in keys}
        self.stride = 1  # logs averaged into one stored point
        self._pending: list[dict[str, float]] = []

    def append(self, record: dict[str, float], flush: bool = False) -> None:
        """Add one log record; `flush` stores it now (with any logs waiting to be averaged)
        instead of when `stride` logs have gathered, so a manual step shows at once."""
        self._pending.append(record)
        if len(self._pending) < self.stride and not flush:
            return
        merged = _mean_records(self._pending)
        self._pending = []
        # Copy-on-write: new lists in a new dict replace `data` in one assignment, and a list
        # once published is never changed. A reader that takes `data` once (copy(), from any
        # thread, without a lock) so always sees series of one length, whatever the training
        # thread appends or halves meanwhile. The copy costs O(capacity) per stored log.
        data = {k: self.data[k] + [merged[k]] for k in self.keys}
        if len(data["step"]) >= self.capacity:
            data = {
                k: [_pair(v[i], v[i + 1], k) for i in range(0, len(v), 2)] for k, v in data.items()
            }
            self.stride *= 2
        self.data = data

    def copy(self) -> dict[str, list[float]]:
        data = self.data  # one read: a consistent set of series (see append)
        return {k: list(v) for k, v in data.items()}

    def last(self) -> dict[str, float] | None:
        """The latest stored point, or None before the first."""
        data = self.data
        return {k: v[-1] for k, v in data.items()} if data["step"] else None

    def __len__(self) -> int:
        return len(self.data["step"])

    def state(self) -> dict:
        return {"stride": self.stride, "data": self.copy()}

    def load(self, state: dict) -> None:
        data = dict(state.get("data", {}))
        for key in self.optional:
            if key not in data and isinstance(data.get("step"), list):
                data[key] = [math.nan] * len(data["step"])
        lengths = {len(data.get(k, [])) for k in self.keys}
        if len(lengths) != 1:
            raise ValueError("history series have different lengths")
        self.data = {k: [float(v) for v in data[k]] for k in self.keys}
        self.stride = max(1, int(state.get("stride", 1)))


# The logged series each player's updates produce.
PLAYER_SERIES = {"d": ("d_loss", "d_real", "d_fake", "d_grad_norm"), "g": ("g_loss", "g_grad_norm")}


def carry_forward(
    record: dict[str, float],
    ran: dict[str, bool],
    last: dict[str, float] | None,
    player_series: dict[str, tuple[str, ...]] = PLAYER_SERIES,
) -> tuple[str, ...]:
    """Give the series of a player that made no update since the last log (`ran[player]` False)
    their last logged values (NaN, a gap in a chart, before any); returns the keys filled.
    `player_series`: each player's series (a run may log more than PLAYER_SERIES)."""
    filled = tuple(k for player, keys in player_series.items() if not ran[player] for k in keys)
    for key in filled:
        record[key] = last[key] if last is not None else math.nan
    return filled


def _pair(a: float, b: float, key: str) -> float:
    return b if key == "step" else (a + b) / 2  # a merged point sits at its later step


def _mean_records(records: list[dict[str, float]]) -> dict[str, float]:
    merged = {k: sum(r[k] for r in records) / len(records) for k in records[0]}
    merged["step"] = records[-1]["step"]
    return merged
