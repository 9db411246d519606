"""SSD anchors as MediaPipe's SsdAnchorsCalculator makes them (for BlazeFace).

The trap: consecutive layers that share a stride form ONE grid, with all their anchors in each
cell (short range: strides 8,16,16,16 -> a 16x16 grid of 2 and an 8x8 grid of 6 = 896 anchors).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np


def _scale(min_scale: float, max_scale: float, index: int, count: int) -> float:
    if count == 1:
        return (min_scale + max_scale) / 2
    return min_scale + (max_scale - min_scale) * index / (count - 1)


def ssd_anchors(options: dict[str, Any]) -> np.ndarray:
    """(N, 4) float32 anchors: x_center, y_center, width, height, all relative to the input (0..1).

    `options` holds the keys of MediaPipe's SsdAnchorsCalculatorOptions (as in the manifest).
    """
    num_layers = int(options["num_layers"])
    strides = [int(s) for s in options["strides"]]
    min_scale, max_scale = float(options["min_scale"]), float(options["max_scale"])
    input_h, input_w = int(options["input_size_height"]), int(options["input_size_width"])
    offset_x, offset_y = float(options.get("anchor_offset_x", 0.5)), float(options.get("anchor_offset_y", 0.5))
    ratios = [float(r) for r in options.get("aspect_ratios", [1.0])]
    interpolated = float(options.get("interpolated_scale_aspect_ratio", 1.0))
    reduce_lowest = bool(options.get("reduce_boxes_in_lowest_layer", False))
    fixed_size = bool(options.get("fixed_anchor_size", False))

    anchors: list[tuple[float, float, float, float]] = []
    layer = 0
    while layer < num_layers:
        # (scale, aspect ratio) of every anchor in one cell of this stride's grid
        cell: list[tuple[float, float]] = []
        last = layer
        while last < num_layers and strides[last] == strides[layer]:
            scale = _scale(min_scale, max_scale, last, num_layers)
            if last == 0 and reduce_lowest:
                cell += [(0.1, 1.0), (scale, 2.0), (scale, 0.5)]
            else:
                cell += [(scale, ratio) for ratio in ratios]
                if interpolated > 0:
                    next_scale = 1.0 if last == num_layers - 1 else _scale(min_scale, max_scale, last + 1, num_layers)
                    cell.append((math.sqrt(scale * next_scale), interpolated))
            last += 1
        grid_h = math.ceil(input_h / strides[layer])
        grid_w = math.ceil(input_w / strides[layer])
        for y in range(grid_h):
            for x in range(grid_w):
                center_x, center_y = (x + offset_x) / grid_w, (y + offset_y) / grid_h
                for scale, ratio in cell:
                    if fixed_size:
                        anchors.append((center_x, center_y, 1.0, 1.0))
                    else:
                        anchors.append((center_x, center_y, scale * math.sqrt(ratio), scale / math.sqrt(ratio)))
        layer = last
    return np.asarray(anchors, dtype=np.float32)
