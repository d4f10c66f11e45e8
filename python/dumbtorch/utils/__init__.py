"""dt.utils: data loading (dt.utils.data) and a training progress bar (dt.utils.progress)."""

from . import data, progress

__all__ = ["data", "progress"]
