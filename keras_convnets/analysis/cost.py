"""Cost analysis of a built model: parameters and multiply-adds per layer and block.

Counted as the papers count them ("FLOPs" in He et al. and "ops" in Szegedy et
al. are multiply-adds):

* ``Conv2D`` (grouped too): ``H_out * W_out * C_out * k_h * k_w * C_in / groups``;
* ``DepthwiseConv2D``: ``H_out * W_out * C_in * multiplier * k_h * k_w``;
* ``SeparableConv2D``: its depthwise plus its pointwise part;
* ``Dense``: ``inputs * units`` per position.

Bias additions are not multiply-adds. Pooling, normalization, activations and
element-wise layers are reported separately as ``other_ops`` (one operation per
output element, times the window for pooling), never mixed into ``macs``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

# Layer-name prefixes that form a block, tried in order; otherwise a leading
# "<word><number>_" (conv1_conv -> conv1), else the layer's own name (avg_pool).
BLOCK_PATTERNS = [
    re.compile(r"^(conv\d+_block\d+)_"),
    re.compile(r"^(inception_\d[a-z])_"),
    re.compile(r"^(mixed\d+)_"),
    re.compile(r"^(aux\d*)_"),
    re.compile(r"^(stem_[a-z]+\d+)_"),  # Inception v2/v3 stem: stem_conv1_bn -> stem_conv1
    re.compile(r"^([a-z]+\d+)_"),
]

_NORMALIZATION = ("BatchNormalization", "LayerNormalization", "LocalResponseNormalization")
_POOLING = ("MaxPooling2D", "AveragePooling2D")
_GLOBAL_POOLING = ("GlobalAveragePooling2D", "GlobalMaxPooling2D")


def block_of(layer_name: str) -> str:
    """The block a layer belongs to, from its name: ``conv2_block1_1_conv -> conv2_block1``."""
    for pattern in BLOCK_PATTERNS:
        match = pattern.match(layer_name)
        if match:
            return match.group(1)
    return layer_name


@dataclass
class LayerCost:
    name: str
    kind: str
    output_shape: tuple
    params: int
    weight_params: int  # kernels only, no biases or BN (how GoogLeNet's table counts)
    macs: int
    other_ops: int
    block: str
    inbound: tuple = ()  # names of the layers feeding this one (for per-block depth)


@dataclass
class ModelCost:
    model_name: str
    layers: list[LayerCost] = field(default_factory=list)

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def other_ops(self) -> int:
        return sum(layer.other_ops for layer in self.layers)

    def blocks(self) -> list[dict]:
        """Per-block sums in model order, with the last layer's output shape."""
        order: dict[str, dict] = {}
        for layer in self.layers:
            row = order.setdefault(
                layer.block,
                {"block": layer.block, "params": 0, "weight_params": 0, "macs": 0, "other_ops": 0},
            )
            row["params"] += layer.params
            row["weight_params"] += layer.weight_params
            row["macs"] += layer.macs
            row["other_ops"] += layer.other_ops
            row["output_shape"] = layer.output_shape
        return list(order.values())

    def block(self, name: str) -> dict:
        for row in self.blocks():
            if row["block"] == name:
                return row
        raise KeyError(f"No block {name!r} in {self.model_name}")

    def layer(self, name: str) -> LayerCost:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"No layer {name!r} in {self.model_name}")


def _shape(tensor) -> tuple:
    return tuple(tensor.shape)


def _spatial(shape) -> int:
    # [batch, *spatial, channels]
    return math.prod(int(d) for d in shape[1:-1])


def _elements(shape) -> int:
    return math.prod(int(d) for d in shape[1:])


def conv_macs(out_h, out_w, out_channels, kernel_h, kernel_w, in_channels, groups=1) -> int:
    """Multiply-adds of a convolution from its sizes."""
    return out_h * out_w * out_channels * kernel_h * kernel_w * in_channels // groups


def _layer_cost(layer) -> LayerCost:
    kind = type(layer).__name__
    params = int(sum(math.prod(v.shape) for v in layer.weights if v.trainable)) + int(
        sum(math.prod(v.shape) for v in layer.weights if not v.trainable)
    )
    weight_params = 0
    macs = 0
    other = 0
    out_shape = _shape(layer.output)
    in_tensors = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
    in_shape = _shape(in_tensors[0])
    if kind in ("Conv2D", "Conv1D", "Conv3D"):
        kernel = layer.kernel
        k = math.prod(int(d) for d in kernel.shape[:-2])
        cin_per_group = int(kernel.shape[-2])
        macs = _spatial(out_shape) * int(out_shape[-1]) * k * cin_per_group
        weight_params = math.prod(int(d) for d in kernel.shape)
    elif kind == "DepthwiseConv2D":
        kernel = layer.kernel
        macs = _spatial(out_shape) * int(out_shape[-1]) * math.prod(kernel.shape[:2])
        weight_params = math.prod(int(d) for d in kernel.shape)
    elif kind == "SeparableConv2D":
        dk, pk = layer.depthwise_kernel, layer.pointwise_kernel
        macs = _spatial(out_shape) * int(in_shape[-1]) * int(dk.shape[-1]) * math.prod(dk.shape[:2])
        macs += _spatial(out_shape) * int(out_shape[-1]) * int(pk.shape[-2])
        weight_params = math.prod(dk.shape) + math.prod(pk.shape)
    elif kind == "Dense":
        positions = math.prod(int(d) for d in out_shape[1:-1]) if len(out_shape) > 2 else 1
        macs = positions * int(layer.kernel.shape[0]) * int(layer.kernel.shape[1])
        weight_params = math.prod(int(d) for d in layer.kernel.shape)
    elif kind in _POOLING:
        other = _elements(out_shape) * math.prod(layer.pool_size)
    elif kind in _GLOBAL_POOLING:
        other = _elements(in_shape)
    elif kind in _NORMALIZATION or kind in ("Activation", "ReLU", "Add", "Multiply", "Softmax"):
        other = _elements(out_shape)
    return LayerCost(
        name=layer.name,
        kind=kind,
        output_shape=out_shape[1:],
        params=params,
        weight_params=int(weight_params),
        macs=int(macs),
        other_ops=int(other),
        block=block_of(layer.name),
        inbound=tuple(t._keras_history[0].name for t in in_tensors if hasattr(t, "_keras_history")),
    )


def analyze(model) -> ModelCost:
    """Counts parameters and multiply-adds of every layer of a built functional model.

    Example:
        >>> import keras_convnets
        >>> from keras_convnets import cost
        >>> c = cost.analyze(keras_convnets.ResNet20())
        >>> c.params
        271098
    """
    result = ModelCost(model.name)
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        result.layers.append(_layer_cost(layer))
    return result


# The seed's worked examples, computed by the same formula the analysis uses.


def naive_5x5_macs(size=28, in_channels=192, out_channels=32) -> int:
    """5x5 branch of inception (3a) without the 1x1 reduction: 120,422,400."""
    return conv_macs(size, size, out_channels, 5, 5, in_channels)


def reduced_5x5_macs(size=28, in_channels=192, reduce=16, out_channels=32) -> int:
    """The same branch after a 1x1 reduction to 16 channels: 12,443,648."""
    return conv_macs(size, size, reduce, 1, 1, in_channels) + conv_macs(
        size, size, out_channels, 5, 5, reduce
    )


def factorization_saving(original: list, factorized: list, channels=1, size=1) -> float:
    """Fraction of multiply-adds saved replacing kernels ``original`` by ``factorized``.

    Kernels are ``(k_h, k_w)`` applied in sequence at equal channels and grid,
    e.g. ``[(5, 5)]`` vs ``[(3, 3), (3, 3)]`` saves 28%, ``[(3, 3)]`` vs
    ``[(1, 3), (3, 1)]`` saves 33%.
    """

    def total(kernels):
        return sum(conv_macs(size, size, channels, kh, kw, channels) for kh, kw in kernels)

    return 1 - total(factorized) / total(original)


def format_table(model_cost: ModelCost, *, paper_rows=None, per_layer=False) -> str:
    """A text table of blocks (or layers) with params and multiply-adds.

    ``paper_rows`` maps a block name to a dict of the paper's printed figures
    (``params``, ``macs``); disagreements are flagged.
    """
    paper_rows = paper_rows or {}
    rows = model_cost.layers if per_layer else model_cost.blocks()
    head = f"{'name':<24} {'output':>16} {'params':>12} {'MACs':>15} {'other ops':>13}"
    if paper_rows:
        head += f" {'paper params':>13} {'paper MACs':>13}  note"
    lines = [f"{model_cost.model_name}", head, "-" * len(head)]
    for row in rows:
        if per_layer:
            name, shape, params, macs, other = (
                row.name,
                row.output_shape,
                row.params,
                row.macs,
                row.other_ops,
            )
        else:
            name, shape, params, macs, other = (
                row["block"],
                row["output_shape"],
                row["params"],
                row["macs"],
                row["other_ops"],
            )
        shape_text = "x".join(str(d) for d in shape)
        line = f"{name:<24} {shape_text:>16} {params:>12,} {macs:>15,} {other:>13,}"
        paper = paper_rows.get(name)
        if paper:
            line += f" {_fmt(paper.get('params')):>13} {_fmt(paper.get('macs')):>13}"
            notes = paper.get("notes") or []
            if notes:
                line += "  " + "; ".join(notes)
        lines.append(line)
    lines.append("-" * len(head))
    lines.append(
        f"{'total':<24} {'':>16} {model_cost.params:>12,} {model_cost.macs:>15,} "
        f"{model_cost.other_ops:>13,}"
    )
    if any("columns" in row for row in paper_rows.values()):
        lines.append("")
        lines.append(format_paper_comparison(model_cost, paper_rows))
    return "\n".join(lines)


def block_depth(model_cost: ModelCost, block: str) -> int:
    """Weight layers on the longest path through ``block`` (an Inception module: 2)."""
    members = {layer.name: layer for layer in model_cost.layers if layer.block == block}
    depth: dict[str, int] = {}

    def visit(name):
        if name not in depth:
            layer = members[name]
            below = [visit(n) for n in layer.inbound if n in members]
            depth[name] = (1 if layer.weight_params else 0) + max(below, default=0)
        return depth[name]

    return max((visit(name) for name in members), default=0)


def format_paper_comparison(model_cost: ModelCost, paper_rows: dict) -> str:
    """Rows of a paper's table beside the built model's: output, depth, filters, weights, MACs.

    Each paper row may carry ``columns`` (column title -> layer name; the
    filters are read from that layer's output channels), ``depth``, and the
    printed ``params``/``macs`` as strings (``"2.7K"``, ``"34M"``) with
    ``notes`` on disagreements. Weights are kernels only (no biases, no BN), as
    Szegedy et al. count them.
    """
    head = (
        f"{'row':<14} {'output':>12} {'depth':>5} {'paper':>5}  {'filter columns':<26} "
        f"{'weights':>11} {'paper':>7} {'MACs':>13} {'paper':>6}  notes"
    )
    lines = ["Paper rows (weights: kernels only; MACs: multiply-adds)", head, "-" * len(head)]
    legends = []
    total_weights = total_macs = 0
    for block, paper in paper_rows.items():
        columns = paper.get("columns")
        if columns is None:
            continue
        row = model_cost.block(block)
        filters = "/".join(
            str(model_cost.layer(layer).output_shape[-1]) for layer in columns.values()
        )
        legend = "/".join(columns)
        if len(columns) > 2 and legend not in legends:
            legends.append(legend)
        shape = "x".join(str(d) for d in row["output_shape"])
        total_weights += row["weight_params"]
        total_macs += row["macs"]
        line = (
            f"{block:<14} {shape:>12} {block_depth(model_cost, block):>5} "
            f"{_fmt(paper.get('depth')):>5}  {filters:<26} {row['weight_params']:>11,} "
            f"{_fmt(paper.get('params')):>7} {row['macs']:>13,} {_fmt(paper.get('macs')):>6}  "
            + "; ".join(paper.get("notes") or [])
        )
        lines.append(line.rstrip())
    lines.append("-" * len(head))
    lines.append(
        f"{'rows total':<14} {'':>12} {'':>5} {'':>5}  {'':<26} {total_weights:>11,} "
        f"{'':>7} {total_macs:>13,}"
    )
    main = sum(r.macs for r in model_cost.layers if not r.block.startswith("aux"))
    lines.append(
        f"main path (all but aux* blocks): {main:,} multiply-adds = {main / 1e9:.4f} x10^9"
    )
    for legend in legends:
        lines.append(f"filter columns: {legend}")
    return "\n".join(lines)


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return f"{value:,}"
