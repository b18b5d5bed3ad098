"""The networks' shapes, read without TensorFlow: `models` builds from them and the
build's planner estimates each run's cost from them."""

IMAGE_SHAPE = (28, 28, 1)  # MNIST: height, width, channels
KERNEL_SIZE = 3  # every convolution is 3x3, "same" padding
NUM_CLASSES = 10


def conv_blocks(widths) -> list[tuple[int, bool]]:
    """A CNN's `widths` ((32, "pool", 64, ...)) read once: [(filters, pooled after), ...]."""
    blocks = []
    for i, spec in enumerate(widths):
        if spec == "pool":
            if i == 0 or widths[i - 1] == "pool":
                raise ValueError(f"each 'pool' must follow a convolution; got widths={widths}")
            blocks[-1] = (blocks[-1][0], True)
        elif isinstance(spec, int) and spec > 0:
            blocks.append((spec, False))
        else:
            raise ValueError(f"widths holds filter counts and 'pool'; got {spec!r} in {widths}")
    return blocks


def multiply_adds(config) -> int:
    """Multiply-adds of one example's forward pass through `config`'s network."""
    size, channels = IMAGE_SHAPE[0], IMAGE_SHAPE[2]
    macs, dense = 0, config.widths
    if config.model == "cnn":
        for filters, pooled in conv_blocks(config.widths):
            macs += size * size * channels * filters * KERNEL_SIZE**2
            size, channels = size // 2 if pooled else size, filters
        dense = config.dense
    fan_in = size * size * channels
    for width in (*dense, NUM_CLASSES):
        macs, fan_in = macs + fan_in * width, width
    return macs
