"""Keras architectures. Every builder returns a model from [-1, 1] images to raw outputs
(logits, or the l1 head's scaled value); export.py adds the decoding layers for the device.

- emotion: "resnet" (compact ResNet, basic blocks) or "vgg" (conv-conv-pool stages);
- age: "wrn" (pre-activation WideResNet, Zagoruyko & Komodakis 2016, depth 6n+4, width k)
  or "vgg" as the alternative.
Sizes are kept small on purpose: <= 3 MB int8 and a few ms per face on one CPU thread.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ArchConfig:
    name: str                      # resnet | vgg | wrn
    widths: tuple[int, ...] = (32, 64, 128)
    blocks: int = 2                # resnet: blocks per stage; vgg: convs per stage
    depth: int = 10                # wrn only (6n + 4)
    width: int = 2                 # wrn only (k)
    dropout: float = 0.2           # before the output layer
    stem_stride: int = 1           # stride of the first conv
    stem_pool: bool = False        # 2x2 max-pool after the first conv


ARCHS = {
    "emotion": {"resnet": ArchConfig("resnet", (24, 48, 96), 2),
                "vgg": ArchConfig("vgg", (24, 48, 96), 2),
                # resnet plus a 4th stage at 3x3: 4x the weights, about 1.3x the time
                "resnet4": ArchConfig("resnet", (24, 48, 96, 192), 2)},
    "age": {"wrn": ArchConfig("wrn", depth=16, width=2, stem_stride=2, stem_pool=True),
            "vgg": ArchConfig("vgg", (32, 64, 128), 2, stem_stride=2)},
}
SMOKE = {"resnet": ArchConfig("resnet", (8, 16), 1), "resnet4": ArchConfig("resnet", (8, 16, 32), 1),
         "vgg": ArchConfig("vgg", (8, 16), 1),
         "wrn": ArchConfig("wrn", depth=10, width=1, stem_stride=2, stem_pool=True)}


def _layers():
    import tensorflow as tf
    return tf.keras.layers


def conv_bn_relu(x, filters: int, stride: int = 1):
    L = _layers()
    x = L.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
    x = L.BatchNormalization()(x)
    return L.ReLU()(x)


def basic_block(x, filters: int, stride: int):
    """ResNet basic block: two 3x3 convs, identity (or 1x1 projection) shortcut."""
    L = _layers()
    shortcut = x
    y = conv_bn_relu(x, filters, stride)
    y = L.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = L.BatchNormalization()(y)
    if stride != 1 or x.shape[-1] != filters:
        shortcut = L.Conv2D(filters, 1, strides=stride, use_bias=False)(x)
        shortcut = L.BatchNormalization()(shortcut)
    return L.ReLU()(L.Add()([y, shortcut]))


def stem(x, filters: int, cfg: ArchConfig, activate: bool = True):
    """First conv (stride cfg.stem_stride), then an optional 2x2 max-pool."""
    L = _layers()
    if activate:
        x = conv_bn_relu(x, filters, cfg.stem_stride)
    else:   # pre-activation nets (wrn) normalize inside the blocks
        x = L.Conv2D(filters, 3, strides=cfg.stem_stride, padding="same", use_bias=False)(x)
    return L.MaxPooling2D(2)(x) if cfg.stem_pool else x


def resnet_features(x, cfg: ArchConfig):
    x = stem(x, cfg.widths[0], cfg)
    for filters in cfg.widths:
        for i in range(cfg.blocks):
            x = basic_block(x, filters, 2 if i == 0 else 1)   # every stage halves the size
    return x


def vgg_features(x, cfg: ArchConfig):
    L = _layers()
    x = stem(x, cfg.widths[0], cfg)
    for filters in cfg.widths:
        for _ in range(cfg.blocks):
            x = conv_bn_relu(x, filters)
        x = L.MaxPooling2D(2)(x)
    return x


def wide_block(x, filters: int, stride: int):
    """Pre-activation wide block: BN-ReLU-conv3x3-BN-ReLU-conv3x3 + shortcut."""
    L = _layers()
    pre = L.ReLU()(L.BatchNormalization()(x))
    shortcut = x
    if stride != 1 or x.shape[-1] != filters:
        shortcut = L.Conv2D(filters, 1, strides=stride, use_bias=False)(pre)
    y = L.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(pre)
    y = L.ReLU()(L.BatchNormalization()(y))
    y = L.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    return L.Add()([y, shortcut])


def wrn_features(x, cfg: ArchConfig):
    L = _layers()
    if (cfg.depth - 4) % 6:
        raise ValueError(f"WideResNet depth must be 6n + 4, not {cfg.depth}")
    n = (cfg.depth - 4) // 6
    x = stem(x, 16, cfg, activate=False)
    for g, filters in enumerate((16 * cfg.width, 32 * cfg.width, 64 * cfg.width)):
        for i in range(n):
            x = wide_block(x, filters, 2 if (i == 0 and g > 0) else 1)
    return L.ReLU()(L.BatchNormalization()(x))


def coral_head(x, thresholds: int):
    """CORAL: one shared score plus one bias per threshold (rank-consistent ordinal logits)."""
    import tensorflow as tf
    L = _layers()

    class ThresholdBias(L.Layer):
        def build(self, input_shape):
            self.bias = self.add_weight(name="bias", shape=(thresholds,), initializer="zeros")
            super().build(input_shape)

        def call(self, score):
            # repeat before the add: else the TFLite converter folds the add into the
            # Dense layer's bias (1 unit vs thresholds biases) and int8 conversion fails
            return tf.repeat(score, thresholds, axis=1) + self.bias

    score = L.Dense(1, use_bias=False)(x)
    return ThresholdBias(name="coral_bias")(score)


def build(task: str, cfg: ArchConfig, input_shape: tuple[int, int, int], outputs: int,
          head: str = "softmax"):
    """The training model: image in [-1, 1] -> logits (or the l1 value, or CORAL logits)."""
    import tensorflow as tf
    L = _layers()
    inp = tf.keras.Input(input_shape, name="image")
    features = {"resnet": resnet_features, "vgg": vgg_features, "wrn": wrn_features}[cfg.name]
    x = features(inp, cfg)
    x = L.GlobalAveragePooling2D()(x)
    if cfg.dropout:
        x = L.Dropout(cfg.dropout)(x)
    if head == "coral":
        out = coral_head(x, outputs)
    else:
        out = L.Dense(outputs, name="logits")(x)
    return tf.keras.Model(inp, out, name=f"{task}_{cfg.name}")
