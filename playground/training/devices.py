"""Which device a run trains on, and its name for people."""

from __future__ import annotations

import torch

from playground.errors import ConfigError


def warm_up() -> None:
    """Pay one-off import costs early (e.g. in a background thread when the app starts): the
    first optimiser loads torch's compiler stack (about a second) and the digits dataset
    imports scikit-learn (about a second); otherwise both land on the first Start."""
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    import sklearn.datasets  # noqa: F401


def resolve_device(name: str) -> torch.device:
    """'auto' picks cuda, then mps, then cpu; an explicit device must exist."""
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if (name == "cuda" and not cuda) or (name == "mps" and not mps):
        raise ConfigError("device", f"'{name}' is not available on this machine; use auto or cpu")
    return torch.device(name)


def device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    return "Apple GPU (mps)" if device.type == "mps" else "CPU"
