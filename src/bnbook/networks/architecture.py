"""A CNN's layer description read once, without TensorFlow (the build's planner reads it too)."""


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
