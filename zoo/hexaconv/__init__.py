"""HexaConv (Hoogeboom, Peters, Cohen, Welling, ICLR 2018): convolution on hexagonal lattices.

`lattice.py` holds the axial index arithmetic, `transforms.py` the exact
rotations and mirror, `resample.py` square <-> hex resampling, `layers.py`
the hexagonal and p6 / p6m group layers, `models.py` the classifiers and
`recipes.py` the registered models.
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
from zoo.hexaconv import recipes  # noqa: F401  (registers the models)
from zoo.hexaconv.models import free_parameters, hexaconv_resnet, with_new_head
from zoo.hexaconv.resample import SquareToHex, hex_to_square, square_to_hex
from zoo.hexaconv.transforms import mirror, rotate60

__all__ = [
    "GroupPooling",
    "HexBatchNormalization",
    "HexConv2D",
    "HexMaxPooling",
    "P6GroupConv",
    "P6MGroupConv",
    "SquareToHex",
    "free_parameters",
    "hexaconv_resnet",
    "hex_to_square",
    "kernel_mask",
    "mirror",
    "rotate60",
    "square_to_hex",
    "support_mask",
    "with_new_head",
]
