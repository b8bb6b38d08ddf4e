"""Connected components of a binary mask, with numpy only (no scipy in the layer).

Runs of ink are found per row with numpy, runs that touch in consecutive rows
(8-connectivity) are joined with a small union-find, and per-component
statistics come from ``bincount``. Cost grows with the number of runs, not pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

Mask = np.ndarray[Any, np.dtype[np.bool_]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]


@dataclass(frozen=True)
class Components:
    """Per-component arrays (index = component id) and each ink run's component."""

    count: int
    area: IntArray
    left: IntArray
    top: IntArray
    right: IntArray  # exclusive
    bottom: IntArray  # exclusive
    run_row: IntArray
    run_start: IntArray
    run_end: IntArray  # exclusive
    run_component: IntArray

    def mask_of(self, keep: np.ndarray[Any, np.dtype[np.bool_]], shape: tuple[int, int]) -> Mask:
        """A mask holding only the components where ``keep[component]`` is true."""
        out = np.zeros(shape, dtype=bool)
        selected = keep[self.run_component]
        rows = self.run_row[selected]
        starts = self.run_start[selected]
        lengths = self.run_end[selected] - starts
        if lengths.size == 0:
            return out
        offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        out[np.repeat(rows, lengths), np.repeat(starts, lengths) + offsets] = True
        return out


def label_components(mask: Mask) -> Components:
    """Label the 8-connected components of ``mask``."""
    height, width = mask.shape
    padded = np.zeros((height, width + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    steps = np.diff(padded, axis=1)
    start_rows, starts = np.nonzero(steps == 1)
    _, ends = np.nonzero(steps == -1)
    run_count = starts.size
    stride = width + 2
    start_keys = start_rows * stride + starts
    end_keys = start_rows * stride + ends
    # Runs of the next row that touch run a (diagonals included) form one contiguous slice.
    first = np.searchsorted(end_keys, (start_rows + 1) * stride + starts, side="left")
    last = np.searchsorted(start_keys, (start_rows + 1) * stride + ends, side="right")
    counts = np.maximum(last - first, 0)
    sources = np.repeat(np.arange(run_count), counts)
    targets = np.repeat(first, counts) + (
        np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    )
    parent = list(range(run_count))
    for a, b in zip(sources.tolist(), targets.tolist(), strict=True):
        root_a, root_b = _find(parent, a), _find(parent, b)
        if root_a != root_b:
            parent[max(root_a, root_b)] = min(root_a, root_b)
    roots = np.array([_find(parent, run) for run in range(run_count)], dtype=np.int64)
    unique_roots, run_component = np.unique(roots, return_inverse=True)
    count = unique_roots.size
    lengths = (ends - starts).astype(np.int64)
    area = np.bincount(run_component, weights=lengths, minlength=count).astype(np.int64)
    left = np.full(count, width, dtype=np.int64)
    top = np.full(count, height, dtype=np.int64)
    right = np.zeros(count, dtype=np.int64)
    bottom = np.zeros(count, dtype=np.int64)
    np.minimum.at(left, run_component, starts)
    np.minimum.at(top, run_component, start_rows)
    np.maximum.at(right, run_component, ends)
    np.maximum.at(bottom, run_component, start_rows + 1)
    return Components(
        count=count,
        area=area,
        left=left,
        top=top,
        right=right,
        bottom=bottom,
        run_row=start_rows.astype(np.int64),
        run_start=starts.astype(np.int64),
        run_end=ends.astype(np.int64),
        run_component=run_component.astype(np.int64),
    )


def _find(parent: list[int], node: int) -> int:
    while parent[node] != node:
        parent[node] = parent[parent[node]]
        node = parent[node]
    return node
