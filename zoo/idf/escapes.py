"""Values outside their table's window: how the codec codes them after a segment's symbols.

A table codes the integers low ... low + width - 1 and one escape entry for all
others (`tables`). Each escaped value then follows the segment's symbols as
which side of its window it lies on (one bit), the bit length n of its
distance d >= 1 beyond the window's edge (under the fixed frequencies
LENGTH_COUNTS) and the n bits of d below its leading one (uniform): about six
bits on the validation photographs, where most escapes land within a few
dozen of the window (a prior sharper than its values in one region). Streams
of format version 6 and before coded the value itself, plus 2**31, in two
16-bit halves, 32 bits each (`decode_raw`).

The encoder pushes onto an rANS stack what the decoder pops in reverse order.

Example:
    >>> above, distance = distances(values, low, width)    # of the escaped values only
    >>> encode(above, distance, coder)
    >>> decode(low, width, coder)                            # `values` again
"""

import constriction
import numpy as np

LIMIT = 1 << 32  # distances beyond a window up to LIMIT - 1 can be coded
# how often each bit length n (d in [2**n, 2**(n+1))) came up on idf-photos' validation photographs, plus one
LENGTH_COUNTS = np.array([123, 201, 274, 280, 217, 98, 20] + [1] * 25)

SIDE = constriction.stream.model.Uniform(2)
LENGTH = constriction.stream.model.Categorical(LENGTH_COUNTS / LENGTH_COUNTS.sum(), perfect=False)
_UNIFORM = {bits: constriction.stream.model.Uniform(1 << bits) for bits in range(1, 17)}  # n bits, at most 16
RAW_OFFSET = 1 << 31  # format 6: raw values are coded as value + 2**31 in two 16-bit halves


def distances(values, low, width):
    """(above, distance) of escaped integer `values` of windows (`low`, `width`): whether each lies above its
    window, and its distance beyond the window's edge (int64, at least 1)."""
    values, low = np.asarray(values, np.int64), np.asarray(low, np.int64)
    above = values >= low + width
    return above, np.where(above, values - (low + width - 1), low - values)


def encode(above, distance, coder):
    """Push escaped values' sides and distances (each in [1, LIMIT)) so that `decode` pops them."""
    length = _length(distance)
    groups = np.unique(length[length > 0])
    for n in groups[::-1]:
        _encode_bits(distance[length == n] - (1 << n), int(n), coder)
    coder.encode_reverse(length.astype(np.int32), LENGTH)
    coder.encode_reverse(above.astype(np.int32), SIDE)


def decode(low, width, coder):
    """The escaped values (int64) of windows (`low`, `width`) that `encode` pushed."""
    count = len(low)
    above = coder.decode(SIDE, count).astype(bool)
    length = coder.decode(LENGTH, count).astype(np.int64)
    distance = np.left_shift(1, length)
    for n in np.unique(length[length > 0]):
        where = length == n
        distance[where] += _decode_bits(int(n), int(where.sum()), coder)
    low = np.asarray(low, np.int64)
    return np.where(above, low + width - 1 + distance, low - distance)


def decode_raw(low, width, coder):
    """The escaped values of a format 6 stream: each value + RAW_OFFSET in two 16-bit halves."""
    halves = coder.decode(_UNIFORM[16], 2 * len(low)).astype(np.int64).reshape(-1, 2)
    return (halves[:, 0] << 16) + halves[:, 1] - RAW_OFFSET


def bits(distance):
    """The information content (bits) of each escaped value of `distance` beyond its window, after its
    escape entry: a side bit, its bit length under LENGTH_COUNTS and the bits below the leading one."""
    length = _length(distance)
    return 1.0 - np.log2(LENGTH_COUNTS[length] / LENGTH_COUNTS.sum()) + length


def _length(distance):
    """The bit length n of each distance (>= 1) below its leading one: distance in [2**n, 2**(n+1)), exactly
    (a float64 holds every distance under LIMIT exactly, and frexp reads its exponent)."""
    return np.frexp(np.asarray(distance, np.float64))[1].astype(np.int64) - 1


def _encode_bits(numbers, n, coder):
    """Push `numbers` of n bits each (1 <= n <= 31): the high n - 16 first popped, then the low 16."""
    if n <= 16:
        coder.encode_reverse(numbers.astype(np.int32), _UNIFORM[n])
        return
    coder.encode_reverse((numbers & 0xFFFF).astype(np.int32), _UNIFORM[16])
    coder.encode_reverse((numbers >> 16).astype(np.int32), _UNIFORM[n - 16])


def _decode_bits(n, count, coder):
    """`count` numbers of n bits each, as `_encode_bits` pushed them (int64)."""
    if n <= 16:
        return coder.decode(_UNIFORM[n], count).astype(np.int64)
    high = coder.decode(_UNIFORM[n - 16], count).astype(np.int64)
    return (high << 16) + coder.decode(_UNIFORM[16], count).astype(np.int64)
