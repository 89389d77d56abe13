"""HexaConv (Hoogeboom, Peters, Cohen, Welling, ICLR 2018): convolution on hexagonal lattices.

`lattice.py` holds the axial index arithmetic, `transforms.py` the exact
rotations and mirror, `layers.py` the hexagonal and p6 / p6m group layers.
"""

from zoo.hexaconv.layers import (
    GroupPooling,
    HexBatchNormalization,
    HexConv2D,
    HexMaxPooling,
    P6GroupConv,
    P6MGroupConv,
    kernel_mask,
    support_mask,
)
from zoo.hexaconv.transforms import mirror, rotate60

__all__ = [
    "GroupPooling",
    "HexBatchNormalization",
    "HexConv2D",
    "HexMaxPooling",
    "P6GroupConv",
    "P6MGroupConv",
    "kernel_mask",
    "mirror",
    "rotate60",
    "support_mask",
]
