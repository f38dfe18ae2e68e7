"""Compiled kernels (numba) for the parts of rendering that array operations do badly: work made of
many small, data-dependent pieces (a track's pixels, sorted and dilated run by run).

Each kernel gives exactly the numbers of the array code it stands for in :mod:`.optics` (the same
operations on the same floats in the same order), so a picture is the same with or without numba;
``tests/datasets/tracks/test_compiled.py`` checks that on whole pictures. numba is optional: without
it (or with ``SCIARCH_NUMBA=0`` in the environment) :mod:`.optics` uses its array code.
"""

from __future__ import annotations

import math
import os

import numpy as np

try:  # numba is in the physics extra; the simulator works without it
    if os.environ.get("SCIARCH_NUMBA", "1") == "0":
        raise ImportError("switched off by SCIARCH_NUMBA=0")
    from numba import njit
except ImportError:  # pragma: no cover - depends on the install
    njit = None

AVAILABLE = njit is not None
#: True: the array code even where a kernel stands for it (tests compare the two)
ARRAY_CODE_ONLY = False


def enabled() -> bool:
    """Whether the kernels stand in for the array code."""
    return AVAILABLE and not ARRAY_CODE_ONLY


def _jit(function):
    # cache=True: compiled once per install (numba keeps the machine code beside the source, or in
    # the user's cache when that is read-only); no fastmath, so no reordered or fused float operations
    return njit(cache=True, nogil=True, boundscheck=False)(function) if AVAILABLE else None


def kernel(function):
    """``function`` compiled as this module's kernels are, or itself where numba is absent or
    switched off: for scalar code that gives the same numbers either way, only at another speed."""
    return _jit(function) if AVAILABLE else function


def _mark(stamp, seen, unique, n, x, y, width, height):  # pragma: no cover - compiled
    """Note the pixel of (x, y), if inside the picture and not yet marked ``seen``, as the ``n``-th of
    ``unique``; returns how many are noted."""
    col = math.floor(x)
    row = math.floor(y)
    if col >= 0 and col < width and row >= 0 and row < height:
        key = int(col) * height + int(row)
        if stamp[key] != seen:
            stamp[key] = seen
            unique[n] = key
            return n + 1
    return n


if AVAILABLE:  # (called by the kernel below)
    _mark = _jit(_mark)


def _track_masks(points, point_bounds, hit_xy, hit_bounds, radii, width, height, stamp, unique):  # pragma: no cover - compiled
    """Every track's instance mask as merged column-major runs, its box and its COCO RLE counts:
    what :func:`.optics._masks` computes with array operations, track by track and without sorting.
    A picture-sized stamp marks the track's pixels: first those its polyline samples and its hits
    fall in (each once), then the disk of the track's radius about each of those; the marked
    pixels are then read off column by column between each column's lowest and highest mark."""
    tracks = len(radii)
    size = width * height
    run_start = np.empty(1024, dtype=np.int64)
    run_stop = np.empty(1024, dtype=np.int64)
    run_bounds = np.zeros(tracks + 1, dtype=np.int64)
    boxes = np.full((tracks, 4), -1, dtype=np.int64)
    counts = np.empty(2048, dtype=np.int64)
    count_bounds = np.zeros(tracks + 1, dtype=np.int64)
    runs_out = 0
    counts_out = 0
    widest = 0
    for k in range(tracks):
        if radii[k] > widest:
            widest = radii[k]
    grow_table = np.zeros((widest + 1, 2 * widest + 1), dtype=np.int64)
    for radius in range(widest + 1):
        for dc in range(-widest, widest + 1):
            value = radius * radius + radius - dc * dc
            grow_table[radius, dc + widest] = int(math.floor(math.sqrt(value))) if value > 0 else 0
    col_low = np.full(width, height, dtype=np.int64)
    col_high = np.full(width, -1, dtype=np.int64)
    for k in range(tracks):
        seen = 2 * k
        n = 0
        first, last = point_bounds[k], point_bounds[k + 1]
        for i in range(first, last):
            x0, y0 = points[i, 0], points[i, 1]
            if i + 1 == last:  # the last point itself
                n = _mark(stamp, seen, unique, n, x0, y0, width, height)
                continue
            dx = points[i + 1, 0] - x0
            dy = points[i + 1, 1] - y0
            samples = max(int(math.ceil(math.sqrt(dx * dx + dy * dy) * 3)), 1)
            for q in range(samples):
                t = q / samples
                n = _mark(stamp, seen, unique, n, x0 + t * dx, y0 + t * dy, width, height)
        for h in range(hit_bounds[k], hit_bounds[k + 1]):
            n = _mark(stamp, seen, unique, n, hit_xy[h, 0], hit_xy[h, 1], width, height)
        run_bounds[k] = runs_out
        count_bounds[k] = counts_out
        if n == 0:
            if counts_out + 1 > len(counts):
                grown = np.empty(2 * (counts_out + 1), dtype=np.int64)
                grown[:counts_out] = counts[:counts_out]
                counts = grown
            counts[counts_out] = size
            counts_out += 1
            continue
        # the disk of the track's radius about each of its pixels, marked; each column's extent kept
        mark = seen + 1
        reach = radii[k]
        left = width
        right = -1
        for u in range(n):
            key = unique[u]
            c = key // height
            r = key - c * height
            for dc in range(-reach, reach + 1):
                cc = c + dc
                if cc < 0 or cc >= width:
                    continue
                grow = grow_table[reach, dc + widest]
                top = r - grow
                if top < 0:
                    top = 0
                bottom = r + grow + 1
                if bottom > height:
                    bottom = height
                base = cc * height
                stamp[base + top:base + bottom] = mark
                if top < col_low[cc]:
                    col_low[cc] = top
                if bottom > col_high[cc]:
                    col_high[cc] = bottom
                if cc < left:
                    left = cc
                if cc > right:
                    right = cc
        # the marked pixels column by column, as runs of column-major indices (joined across a
        # column's end), the box and the RLE counts
        lowest = height
        highest = 0
        previous_stop = 0
        joined = 0
        for cc in range(left, right + 1):
            top = col_low[cc]
            bottom = col_high[cc]
            if bottom < 0:
                continue
            col_low[cc] = height
            col_high[cc] = -1
            if top < lowest:
                lowest = top
            if bottom > highest:
                highest = bottom
            base = cc * height
            column = stamp[base + top:base + bottom]  # (a slice: its indices need no checks)
            length = bottom - top
            begin = -1
            for q in range(length + 1):
                marked = q < length and column[q] == mark
                if marked:
                    if begin < 0:
                        begin = q
                    continue
                if begin < 0:
                    continue
                flat_start = base + top + begin
                flat_stop = base + top + q
                begin = -1
                if joined and flat_start <= run_stop[runs_out + joined - 1]:
                    run_stop[runs_out + joined - 1] = flat_stop
                    continue
                if runs_out + joined + 1 > len(run_start):
                    grown_start = np.empty(2 * (runs_out + joined + 1), dtype=np.int64)
                    grown_stop = np.empty(2 * (runs_out + joined + 1), dtype=np.int64)
                    grown_start[:runs_out + joined] = run_start[:runs_out + joined]
                    grown_stop[:runs_out + joined] = run_stop[:runs_out + joined]
                    run_start, run_stop = grown_start, grown_stop
                run_start[runs_out + joined] = flat_start
                run_stop[runs_out + joined] = flat_stop
                joined += 1
        boxes[k, 0] = left
        boxes[k, 1] = lowest
        boxes[k, 2] = right + 1
        boxes[k, 3] = highest
        if counts_out + 2 * joined + 1 > len(counts):
            grown = np.empty(2 * (counts_out + 2 * joined + 1), dtype=np.int64)
            grown[:counts_out] = counts[:counts_out]
            counts = grown
        for j in range(runs_out, runs_out + joined):
            counts[counts_out] = run_start[j] - previous_stop
            counts[counts_out + 1] = run_stop[j] - run_start[j]
            counts_out += 2
            previous_stop = run_stop[j]
        runs_out += joined
        if size - previous_stop:
            counts[counts_out] = size - previous_stop
            counts_out += 1
    run_bounds[tracks] = runs_out
    count_bounds[tracks] = counts_out
    return run_start[:runs_out], run_stop[:runs_out], run_bounds, boxes, counts[:counts_out], count_bounds


_track_masks_compiled = _jit(_track_masks)


def track_masks(points, point_bounds, hit_xy, hit_bounds, radii, width, height):
    """:func:`_track_masks` compiled, with its picture-sized stamp and room for a track's pixels made here (by numpy: see :func:`blur`)."""
    size = width * height
    return _track_masks_compiled(points, point_bounds, hit_xy, hit_bounds, radii, width, height,
                                 np.full(size, -1, dtype=np.int32), np.empty(size, dtype=np.int64))


def _blur(image, weights, padded, across, result):  # pragma: no cover - compiled
    """The separable blur of :func:`.optics._blur`, number for number: each row mirrored at its ends
    (scipy's ``reflect``) and correlated with the symmetric ``weights`` (the centre's product first,
    then each mirrored pair's sum times its weight, added in turn), then the same down the columns
    (rows mirrored at the picture's edges). Row by row, so each pass works on a few rows in cache
    rather than on the whole picture once per tap; and in each row only between the first and last
    column that the pixels not zero reach (the blur of zeros is zero: the array code's numbers).
    ``padded`` (height, width + 2 radius), ``across`` and ``result`` (zeros): buffers. (Open-ended
    slices of rows in the inner loops: numba vectorises those loops, not ones on shifted indices.)"""
    height, width = image.shape
    radius = len(weights) // 2
    centre = weights[radius]
    # each row's reach: the columns within the radius of its pixels that are not zero
    first = np.full(height, width, dtype=np.int64)
    last = np.full(height, -1, dtype=np.int64)
    for i in range(height):
        src = image[i]
        for j in range(width):
            if src[j] != 0:
                first[i] = max(j - radius, 0)
                break
        if first[i] < width:
            for j in range(width - 1, -1, -1):
                if src[j] != 0:
                    last[i] = min(j + radius, width - 1)
                    break
    for i in range(height):
        if last[i] < 0:
            continue
        p = padded[i]
        src = image[i]
        for j in range(width):
            p[radius + j] = src[j]
        for j in range(radius):
            p[j] = src[radius - 1 - j]
            p[radius + width + j] = src[width - 1 - j]
        lo = first[i]
        n = last[i] + 1 - lo
        out = across[i][lo:]
        middle = p[radius + lo:]
        for j in range(n):
            out[j] = middle[j] * centre
        for k in range(radius):
            w = weights[k]
            a = p[k + lo:]
            b = p[2 * radius - k + lo:]
            for j in range(n):
                out[j] += (a[j] + b[j]) * w
    for i in range(height):
        lo, hi = width, 0  # the reach of the rows within the radius (mirrored at the edges)
        for k in range(2 * radius + 1):
            source = i + k - radius
            if source < 0:
                source = -source - 1
            if source >= height:
                source = 2 * height - source - 1
            if last[source] >= 0:
                lo = min(lo, first[source])
                hi = max(hi, last[source] + 1)
        if hi <= lo:
            continue
        n = hi - lo
        out = result[i][lo:]
        middle = across[i][lo:]
        for j in range(n):
            out[j] = middle[j] * centre
        for k in range(radius):
            w = weights[k]
            up = i + k - radius  # the rows radius − k above and below, mirrored at the edges
            if up < 0:
                up = -up - 1
            down = i + radius - k
            if down >= height:
                down = 2 * height - down - 1
            a = across[up][lo:]
            b = across[down][lo:]
            for j in range(n):
                out[j] += (a[j] + b[j]) * w
    return result


def _cell(x, y):  # pragma: no cover - compiled
    """The pixel whose centre is the nearest up and left of (x, y), and how far past it (x, y) is
    (the bilinear weights' fractions), as :func:`.optics._splatted` finds them."""
    x = x - 0.5
    y = y - 0.5
    c0 = math.floor(x)
    r0 = math.floor(y)
    return c0, r0, x - c0, y - r0


if AVAILABLE:  # (called by the kernels below)
    _cell = _jit(_cell)


def _splat(points, splat, out):  # pragma: no cover - compiled
    """The bilinear splat of unit points (float32 (height, width)), summed in float64 in the order
    ``np.bincount`` sums it in :func:`.optics._splatted` (each point's top-left share, then every
    top-right, bottom-left, bottom-right)."""
    height, width = out.shape
    n = len(points)
    for corner in range(4):
        dc = corner % 2
        dr = corner // 2
        for i in range(n):
            c0, r0, fx, fy = _cell(points[i, 0], points[i, 1])
            col = int(c0) + dc
            row = int(r0) + dr
            if col < 0 or col >= width or row < 0 or row >= height:
                continue
            share_x = fx if dc else 1 - fx
            share_y = fy if dr else 1 - fy
            splat[row * width + col] += share_x * share_y
    flat = out.reshape(-1)
    for i in range(len(flat)):
        flat[i] = np.float32(splat[i])


def _add_scaled(canvas, layer, x0, y0, gain):  # pragma: no cover - compiled
    """``canvas[y0:, x0:] += layer × gain`` over the layer's size (float32, as the array code)."""
    height, width = layer.shape
    for i in range(height):
        out = canvas[y0 + i, x0:x0 + width]
        source = layer[i]
        for j in range(width):
            out[j] += source[j] * gain


def splat_blur_add(canvas, points, x0, y0, x1, y1, weights, gain):
    """What :func:`.optics._blurred_layer` adds to ``canvas`` once it has cropped: the splat of the
    unit ``points`` (in the crop's pixels), blurred, times ``gain``, added to the crop. (Three
    kernels called from here, each on arrays numpy made: see :func:`blur`.)"""
    layer = np.empty((y1 - y0, x1 - x0), dtype=np.float32)
    _splat_compiled(points, np.zeros(layer.size), layer)
    _add_scaled_compiled(canvas, blur(layer, weights), x0, y0, gain)


def _lit(transmitted, across_a, down_b, across_c, down_d, low, high, picture):  # pragma: no cover - compiled
    """The lit picture of :func:`.optics.render`: the light ``(a[j] + b[i]) (c[j] − d[i])`` clipped
    to [low, high] (float32, as :func:`.optics._lighting` makes it) times the transmittance."""
    height, width = transmitted.shape
    for i in range(height):
        b = down_b[i]
        d = down_d[i]
        for j in range(width):
            light = (across_a[j] + b) * (across_c[j] - d)
            if light < low:
                light = low
            if light > high:
                light = high
            picture[i, j] = light * transmitted[i, j]


def _grain_values(bits, quantiles, strength, grain):  # pragma: no cover - compiled
    """Film grain (float32, (height, width)): each pixel's normal quantile times ``strength``."""
    flat = grain.reshape(-1)
    for i in range(len(flat)):
        flat[i] = quantiles[bits[i]] * strength


def _develop(picture, blurred, grain, blurred_gain, grain_gain, full, image):  # pragma: no cover - compiled
    """The last steps of :func:`.optics.render`: the blurred and the sharp grain added (each times its
    gain), times ``full``, clipped to [0, full] and rounded half to even into uint8 (``grain`` may be
    empty: no film noise)."""
    height, width = picture.shape
    noisy = grain.shape[0] > 0
    zero = np.float32(0.0)
    for i in range(height):
        for j in range(width):
            value = picture[i, j]
            if noisy:
                value = value + blurred[i, j] * blurred_gain
                value = value + grain[i, j] * grain_gain
            value = value * full
            if value < zero:
                value = zero
            if value > full:
                value = full
            image[i, j] = np.uint8(np.rint(value))


def _number_texts(scaled, decimals, tail, every, out, ends):  # pragma: no cover - compiled
    """The texts of :func:`.coco.json_numbers` (``scaled``: the values times 10^decimals, rounded,
    each below 10¹⁵ over 10^decimals): each value's sign, whole digits, point and decimals (trailing
    zeros dropped but one), a comma, and ``tail`` after every ``every``-th; into ``out`` (bytes, big
    enough), each one's last comma's offset into ``ends``. Returns how many bytes."""
    at = 0
    digits = np.empty(24, dtype=np.uint8)
    power = 1
    for _ in range(decimals):
        power *= 10
    for k in range(len(scaled)):
        value = scaled[k]
        if value < 0 or (value == 0 and math.copysign(1.0, value) < 0):  # (−0.0 too, as repr writes it)
            out[at] = 45  # -
            at += 1
        magnitude = int(abs(value))
        whole = magnitude // power
        fraction = magnitude - whole * power
        n = 0
        while True:
            digits[n] = 48 + whole % 10
            whole //= 10
            n += 1
            if whole == 0:
                break
        for q in range(n - 1, -1, -1):
            out[at] = digits[q]
            at += 1
        out[at] = 46  # .
        at += 1
        # the decimals, most significant first, trailing zeros dropped but the first decimal
        kept = decimals
        rest = fraction
        while kept > 1 and rest % 10 == 0:
            rest //= 10
            kept -= 1
        place = power
        for _ in range(kept):
            place //= 10
            out[at] = 48 + (fraction // place) % 10
            at += 1
        out[at] = 44  # ,
        at += 1
        if len(tail) and k % every == every - 1:
            for q in range(len(tail)):
                out[at] = tail[q]
                at += 1
        ends[k] = at - 1
    return at


def _rle_texts(counts, bounds, out, ends):  # pragma: no cover - compiled
    """COCO's compressed RLE strings of the masks whose counts are ``counts[bounds[k]:bounds[k + 1]]``
    (as :func:`.coco._rle_strings` writes them): each count from a mask's fourth on less the count two
    before, in 5-bit groups least significant first, bit 6 on every group but the last, plus 48. Into
    ``out`` (bytes, big enough); mask k's end into ``ends[k]``."""
    at = 0
    for k in range(len(bounds) - 1):
        for i in range(bounds[k], bounds[k + 1]):
            value = counts[i]
            if i - bounds[k] > 2:
                value -= counts[i - 2]
            more = True
            while more:
                group = value & 31
                value >>= 5
                if group & 16:
                    more = value != -1
                else:
                    more = value != 0
                if more:
                    group |= 32
                out[at] = group + 48
                at += 1
        ends[k] = at
    return at


def _spot_values(points, weights, kernel, height, width, scratch, touched, keys):  # pragma: no cover - compiled
    """:func:`.optics._spot_values`, number for number: each point's bilinear pair convolved with
    the kernel along each axis, the product times its weight added to every pixel it reaches (in
    float64, point by point, row by row, as ``np.bincount`` adds them). ``scratch`` (float64) and
    ``touched`` (bool), picture-sized zeros; ``keys``: room for every reached pixel. Returns how
    many pixels were reached; their indices, ascending, are then ``keys[:count]``."""
    radius = len(kernel) // 2
    taps = 2 * radius + 2
    wx = np.empty(taps)
    wy = np.empty(taps)
    count = 0
    for i in range(len(points)):
        c0, r0, fx, fy = _cell(points[i, 0], points[i, 1])
        for k in range(taps):  # (1 − f) × kernel padded with a zero + f × kernel shifted by one
            here = kernel[k] if k < taps - 1 else 0.0
            before = kernel[k - 1] if k > 0 else 0.0
            wx[k] = (1 - fx) * here + fx * before
            wy[k] = (1 - fy) * here + fy * before
        for a in range(taps):
            row = int(r0) - radius + a
            if row < 0 or row >= height:
                continue
            for b in range(taps):
                col = int(c0) - radius + b
                if col < 0 or col >= width:
                    continue
                key = row * width + col
                scratch[key] += wy[a] * wx[b] * weights[i]
                if not touched[key]:
                    touched[key] = True
                    keys[count] = key
                    count += 1
    keys[:count].sort()
    return count


def _stream_take(state, picture_row, stream, stream_base, cursor, length, counts, out):  # pragma: no cover - compiled
    """:meth:`.stepping.Transport._randoms`: each column's next three numbers of its picture's stream
    (the columns grouped by picture, each picture's in its particles' order) into ``out`` (3, n),
    each picture's cursor moved on. Returns False, having changed nothing, when a picture's stream
    has too few left (its stream is drawn again first, by numpy)."""
    n = state.shape[1]
    counts[:] = 0
    for j in range(n):
        counts[int(state[picture_row, j])] += 1
    for q in range(len(counts)):
        if cursor[q] + counts[q] > length:
            return False
    first = 0
    previous = -1
    for j in range(n):
        picture = int(state[picture_row, j])
        if picture != previous:
            first = j
            previous = picture
        at = stream_base[picture] + cursor[picture] + (j - first)
        out[0, j] = stream[0, at]
        out[1, j] = stream[1, at]
        out[2, j] = stream[2, at]
    for q in range(len(counts)):
        cursor[q] += counts[q]
    return True


def _place_points(records, offset, slot_row, point_row, xyz, beta):  # pragma: no cover - compiled
    """Each recorded point (x, y, z, β rows 0-3 of ``records``) put at its particle's offset plus
    its point number."""
    for i in range(records.shape[1]):
        at = offset[int(records[slot_row, i])] + int(records[point_row, i])
        xyz[at, 0] = records[0, i]
        xyz[at, 1] = records[1, i]
        xyz[at, 2] = records[2, i]
        beta[at] = records[3, i]


def _least(a, b):  # pragma: no cover - compiled
    """np.minimum of two floats (a NaN wins)."""
    if a != a:
        return a
    if b != b:
        return b
    return a if a <= b else b


def _most(a, b):  # pragma: no cover - compiled
    """np.maximum of two floats (a NaN wins)."""
    if a != a:
        return a
    if b != b:
        return b
    return a if a >= b else b


if AVAILABLE:  # (the kernels below call these compiled)
    _least, _most = _jit(_least), _jit(_most)
_blur_compiled = _jit(_blur)


def blur(image, weights):
    """:func:`_blur` compiled, on arrays numpy made. (Arrays that compiled code allocates are several
    times slower to fill here than numpy's, which asks the kernel for huge pages: every kernel's
    large arrays are made by numpy and passed in.)"""
    height, width = image.shape
    padded = np.empty((height, width + 2 * (len(weights) // 2)), dtype=np.float32)
    across = np.zeros((height, width), dtype=np.float32)
    result = np.zeros((height, width), dtype=np.float32)
    _blur_compiled(image, weights, padded, across, result)
    return result


def _step_start(state, ln_p, table, stream, scale, low, top, step_max, energy_loss, delta_rays,
                columns):  # pragma: no cover - compiled
    """The first half of :meth:`.stepping.Transport._step` for every column, number for number: the
    tabulated dE/dx, δ-ray rate and Highland coefficient, the step length, whether a δ-ray is
    knocked out, and the half turn with its sine and cosine by their series. Returns (dE/dx,
    Highland, step, fired, half, sin, cos) and how many half turns are too wide for the series."""
    n = state.shape[1]
    dedx = np.empty(n)
    highland = np.empty(n)
    ds = np.empty(n)
    fired = np.zeros(n, dtype=np.bool_)
    half = np.empty(n)
    sin = np.empty(n)
    cos = np.empty(n)
    wide = 0
    for j in range(n):
        p = state[columns.P, j]
        mass = state[columns.MASS, j]
        energy = math.sqrt(p * p + mass * mass)
        kinetic = energy - mass
        position = (ln_p[j] - low) * scale
        position = _most(position, 0.0)
        position = _least(position, top)
        cell = int(position)
        weight = position - cell
        cell += int(state[columns.TABLE, j])
        value0 = (table[0, cell + 1] - table[0, cell]) * weight + table[0, cell]
        value1 = (table[1, cell + 1] - table[1, cell]) * weight + table[1, cell]
        value2 = (table[2, cell + 1] - table[2, cell]) * weight + table[2, cell]
        step = state[columns.STEP_TURN, j] * p
        step = _least(step, step_max)
        if energy_loss:
            step = _least(step, 0.05 * kinetic / value0)
        step = _most(step, 2e-5)
        if delta_rays:
            fired[j] = stream[2, j] < value1 * step * state[columns.DELTAS, j]
        turn = state[columns.HALF_TURN, j] * step / p
        h2 = turn * turn
        sin[j] = turn * (1.0 - h2 * (1.0 / 6.0 - h2 * (1.0 / 120.0 - h2 / 5040.0)))
        cos[j] = 1.0 - h2 * (0.5 - h2 * (1.0 / 24.0 - h2 / 720.0))
        if h2 > 1e-3:
            wide += 1
        dedx[j] = value0
        highland[j] = value2
        ds[j] = step
        half[j] = turn
    return dedx, highland, ds, fired, half, sin, cos, wide


def _step_end(state, stream, dedx, highland, ds, sin, cos, energy_loss, multiple_scattering, half_width,
              half_height, half_depth, max_steps, columns, codes):  # pragma: no cover - compiled
    """The second half of :meth:`.stepping.Transport._step`, number for number: the move with the
    field's turn half before and half after, Highland's kink, the energy loss, the proper time, and
    how each column ended (``codes``: 0 for going on, else the code :meth:`_step` gives). Updates
    ``state`` in place; returns how many columns ended."""
    n = state.shape[1]
    ended = 0
    for j in range(n):
        ux = state[columns.UX, j]
        uy = state[columns.UY, j]
        uz = state[columns.UZ, j]
        p = state[columns.P, j]
        mass = state[columns.MASS, j]
        energy = math.sqrt(p * p + mass * mass)
        kinetic = energy - mass
        step = ds[j]
        s, c = sin[j], cos[j]
        ux1 = c * ux - s * uy
        uy1 = s * ux + c * uy
        state[columns.X, j] += ux1 * step
        state[columns.Y, j] += uy1 * step
        state[columns.Z, j] += uz * step
        state[columns.TRAVELLED, j] += step
        ux2 = c * ux1 - s * uy1
        uy2 = s * ux1 + c * uy1
        if multiple_scattering:
            theta = highland[j] * math.sqrt(step)
            a = theta * stream[0, j]
            b = theta * stream[1, j]
            norm = math.sqrt(ux2 * ux2 + uy2 * uy2)
            ai = a / norm
            bz = b * uz / norm
            bz += 1.0
            vx = ux2 * bz + ai * uy2
            vy = uy2 * bz - ai * ux2
            vz = uz - b * norm
            if abs(uz) >= 0.9:  # near the field: the first axis is u × x
                m = math.sqrt(uz * uz + uy2 * uy2)
                e1y = uz / m
                e1z = -uy2 / m
                vx = ux2 + b * (uy2 * e1z - uz * e1y)
                vy = uy2 + a * e1y - b * ux2 * e1z
                vz = uz + a * e1z + b * ux2 * e1y
            length = math.sqrt(vx * vx + vy * vy + vz * vz)
            state[columns.UX, j] = vx / length
            state[columns.UY, j] = vy / length
            state[columns.UZ, j] = vz / length
        else:
            state[columns.UX, j] = ux2
            state[columns.UY, j] = uy2
        stopped_now = False
        if energy_loss:
            energy_new = energy - dedx[j] * step
            stopped_now = energy_new <= mass
            p_new = math.sqrt(_most(energy_new * energy_new - mass * mass, 0.0))
            state[columns.P, j] = p_new
            state[columns.BETA, j] = p_new / energy_new
            kinetic_next = energy_new - mass
        else:
            p_new = p
            state[columns.BETA, j] = p / energy
            kinetic_next = kinetic
        state[columns.PROPER, j] += step * mass / p_new
        state[columns.POINT, j] += 1.0
        outside = (abs(state[columns.X, j] - half_width) > half_width
                   or abs(state[columns.Y, j] - half_height) > half_height
                   or abs(state[columns.Z, j] - 0.0) > half_depth)
        decayed = state[columns.PROPER, j] >= state[columns.DECAY_AT, j]
        interacted = state[columns.TRAVELLED, j] >= state[columns.INTERACT_AT, j]
        limit = state[columns.POINT, j] >= max_steps
        code = 0
        if outside or decayed or interacted or limit or kinetic_next < state[columns.T_STOP, j] or stopped_now:
            code = columns.STOPPED  # in order of precedence, as :meth:`_step` sets them
            if limit:
                code = columns.STEPS
            if outside:
                code = columns.EXIT
            if interacted:
                code = columns.INTERACTION
            if decayed:
                code = columns.DECAY
            if stopped_now:
                code = columns.STOPPED
            ended += 1
        codes[j] = code
    return ended


step_start = _jit(_step_start)
_lit_compiled = _jit(_lit)
place_points = _jit(_place_points)
stream_take = _jit(_stream_take)
_spot_values_compiled = _jit(_spot_values)
_number_texts_compiled = _jit(_number_texts)
_rle_texts_compiled = _jit(_rle_texts)
_grain_values_compiled = _jit(_grain_values)
_develop_compiled = _jit(_develop)


def lit(transmitted, across_a, down_b, across_c, down_d, low, high):
    """:func:`_lit` compiled: the lit picture (float32)."""
    picture = np.empty(transmitted.shape, dtype=np.float32)
    _lit_compiled(transmitted, across_a, down_b, across_c, down_d, low, high, picture)
    return picture


def grain_values(bits, quantiles, strength, height, width):
    """:func:`_grain_values` compiled: the grain (float32 (height, width))."""
    grain = np.empty((height, width), dtype=np.float32)
    _grain_values_compiled(bits, quantiles, strength, grain)
    return grain


def develop(picture, blurred, grain, blurred_gain, grain_gain, full):
    """:func:`_develop` compiled: the picture as uint8."""
    image = np.empty(picture.shape, dtype=np.uint8)
    _develop_compiled(picture, blurred, grain, blurred_gain, grain_gain, full, image)
    return image
_splat_compiled = _jit(_splat)
_add_scaled_compiled = _jit(_add_scaled)
step_end = _jit(_step_end)


def number_texts(scaled, decimals, tail, every):
    """:func:`_number_texts` compiled: the bytes and each text's last comma's offset."""
    out = np.empty(len(scaled) * (22 + decimals + len(tail)), dtype=np.uint8)
    ends = np.empty(len(scaled), dtype=np.int64)
    size = _number_texts_compiled(scaled, decimals, np.frombuffer(tail, dtype=np.uint8), every, out, ends)
    return out[:size].tobytes(), ends


def rle_texts(counts, bounds):
    """:func:`_rle_texts` compiled: the masks' strings."""
    out = np.empty(13 * len(counts), dtype=np.uint8)  # (a 64-bit count: 13 groups at most)
    ends = np.empty(len(bounds) - 1, dtype=np.int64)
    size = _rle_texts_compiled(counts, bounds, out, ends)
    text = out[:size].tobytes().decode("ascii")
    at = [0, *ends.tolist()]
    return [text[at[k]:at[k + 1]] for k in range(len(bounds) - 1)]


def spot_values(height, width, points, weights, kernel):
    """:func:`_spot_values` compiled: the pixels reached (ascending) and the values there (float32)."""
    scratch = np.zeros(height * width)
    radius = len(kernel) // 2
    keys = np.empty(len(points) * (2 * radius + 2) ** 2, dtype=np.int64)
    count = _spot_values_compiled(np.ascontiguousarray(points, dtype=np.float64), np.asarray(weights, dtype=np.float64),
                                  kernel, height, width, scratch, np.zeros(height * width, dtype=np.bool_), keys)
    pixels = keys[:count]
    return pixels, scratch.take(pixels).astype(np.float32)
