"""Binary morphology on boolean masks with numpy slicing (3x3, 8-connected).

PIL's rank filters cost ~30 ms per pass on a 1024x1024 image; these cost ~1 ms.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Mask = np.ndarray[Any, np.dtype[np.bool_]]


def erode(mask: Mask) -> Mask:
    """Keep a pixel only if its whole 3x3 neighbourhood is set (outside counts as unset)."""
    rows = mask.copy()
    rows[1:, :] &= mask[:-1, :]
    rows[:-1, :] &= mask[1:, :]
    rows[0, :] = False
    rows[-1, :] = False
    out = rows.copy()
    out[:, 1:] &= rows[:, :-1]
    out[:, :-1] &= rows[:, 1:]
    out[:, 0] = False
    out[:, -1] = False
    return out


def dilate(mask: Mask) -> Mask:
    """Set every pixel that has a set pixel in its 3x3 neighbourhood."""
    rows = mask.copy()
    rows[1:, :] |= mask[:-1, :]
    rows[:-1, :] |= mask[1:, :]
    out = rows.copy()
    out[:, 1:] |= rows[:, :-1]
    out[:, :-1] |= rows[:, 1:]
    return out


def dilate_times(mask: Mask, times: int) -> Mask:
    for _ in range(times):
        mask = dilate(mask)
    return mask


def boundary(mask: Mask) -> Mask:
    """The one-pixel inner outline of every shape; lines under three pixels stay whole."""
    return mask & ~erode(mask)
