"""Revenue-target planning: how many deals each stage needs, and the odds.

``deals_needed`` runs the funnel backwards from a revenue target (the
expected-value plan every sales team writes) and adds what that plan leaves
out: the chance it actually reaches the target, and the smallest counts that
reach it with a chosen confidence.  ``target_probability`` gives the chance of
reaching a target with the open pipeline or with n new opportunities;
``plan`` measures every input from the user's own deal table.

Model (see ``docs/planning.md``): each deal entering a stage moves on to the
next with that stage's rate, independently of the others (a Bernoulli
thinning), so the wins from ``n`` deals at a stage are Binomial(n, product of
the rates down to won).  Rate uncertainty (``rate_counts``) and skewed deal
sizes (``deal_size_sample``) are integrated by seeded simulation, with the binomial
part always computed exactly (Rao–Blackwellised Monte Carlo).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import special, stats

from funnelkit._deals_validate import LOST as LOST_CODE
from funnelkit._deals_validate import (
    NAT,
    currency_column,
    drop_unusable,
    group_codes,
    group_labels,
    group_targets,
    read_deals,
)
from funnelkit._deals_validate import OPEN as OPEN_CODE
from funnelkit._deals_validate import WON as WON_CODE
from funnelkit._history import deal_paths, read_history
from funnelkit._kernels import resolve_jobs
from funnelkit._survival import conditional_quantile, cumulative_incidence
from funnelkit._validate import (
    N_EXAMPLES,
    as_list,
    check_date,
    check_fraction,
    check_frame,
    check_positive,
    closest,
    param_error,
    require_columns,
    timestamp_ns,
)
from funnelkit.columns import Columns, takes_columns
from funnelkit.errors import InvalidDataError, InvalidParameterError

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]

#: Simulation draws behind every Monte Carlo figure (standard error of a
#: probability near 0.9 about 0.002).
N_DRAWS = 20_000
#: Largest matrix (cells) a simulation step holds in memory at once.
_CELLS = 4_000_000
#: Above this many wins needed, their number is drawn from the normal (central
#: limit) approximation of a sum of deal sizes instead of by adding draws.
_CLT_WINS = 2_000
#: Counts beyond this are reported as unreachable.
_MAX_N = 10**15

OPPORTUNITY = "opportunity"
WON = "won"


# ----------------------------------------------------------------------------
# numpy kernels (no pandas, no validation)
# ----------------------------------------------------------------------------
def _ceil(x: float) -> int:
    """``ceil(x)``, except that x within a relative 1e-9 of an integer is that integer.

    Keeps float noise from adding a deal: ``3 / 0.3`` is 10.000000000000002
    and needs 10 deals, not 11.
    """
    r = round(x)
    if abs(x - r) <= 1e-9 * max(1.0, abs(x)):
        return int(r)
    return math.ceil(x)


def _ceil_array(x: FloatArray) -> IntArray:
    """Elementwise :func:`_ceil`."""
    r = np.round(x)
    near = np.abs(x - r) <= 1e-9 * np.maximum(1.0, np.abs(x))
    return np.where(near, r, np.ceil(x)).astype(np.int64)


def _reverse_plan(won_needed: int, rates: list[float]) -> list[int]:
    """Expected-value plan: ``needed[k] = ceil(needed[k + 1] / rate[k])``, top row first."""
    needed = [won_needed]
    for rate in reversed(rates):
        needed.append(_ceil(needed[-1] / rate))
    return needed[::-1]


def _prob_reach(n: int, wins_needed: Any, p: Any) -> tuple[float, float]:
    """Mean and standard error of ``P(Binomial(n, p) >= wins_needed)`` over draws.

    ``wins_needed`` and ``p`` are scalars or arrays of simulation draws
    (paired by index).  With scalars the result is exact and the standard
    error 0.
    """
    m = np.asarray(wins_needed)
    q = np.asarray(p, dtype=np.float64)
    if m.ndim == 0 and q.ndim == 0:
        return float(stats.binom.sf(int(m) - 1, n, float(q))), 0.0
    if q.ndim == 0:
        # few distinct wins-needed values: evaluate each once
        values, counts = np.unique(m, return_counts=True)
        sf = stats.binom.sf(values - 1, n, float(q))
        mean = float(np.dot(sf, counts) / m.size)
        var = float(np.dot((sf - mean) ** 2, counts) / m.size)
        return mean, math.sqrt(var / m.size)
    sf = stats.binom.sf(m - 1, n, q)
    return float(sf.mean()), float(sf.std() / math.sqrt(sf.size))


def _smallest_n(wins_needed: Any, p: Any, confidence: float, start: int) -> int:
    """Smallest n >= 0 with ``P(reach | n) >= confidence`` (exponential + bisection search).

    ``P(reach | n)`` never decreases in n (for each draw, the binomial tail
    does not), so the search is exact for the given draws.
    """

    def ok(n: int) -> bool:
        return _prob_reach(n, wins_needed, p)[0] >= confidence

    if ok(0):
        return 0
    lo, hi = 0, max(1, start)
    while not ok(hi):
        lo, hi = hi, hi * 2
        if hi > _MAX_N:
            msg = (
                f"No count up to {_MAX_N:.0e} reaches the target with probability "
                f"{confidence}; the rates are too small. Check the rates and rate_counts."
            )
            raise InvalidParameterError(msg)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _rate_draws(
    rates: list[float], counts: list[float | None], n_draws: int, rng: np.random.Generator
) -> FloatArray:
    """Draws of each rate (rows) from its beta distribution; exact rates stay constant.

    A rate r measured on m observations is drawn from Beta(r·m, (1 − r)·m)
    by Latin hypercube sampling (one stratified uniform per draw, shuffled
    independently per rate).
    """
    out = np.empty((len(rates), n_draws))
    drawn: list[tuple[int, float, float]] = []  # (row, a, b) of the rows to invert
    for i, (rate, count) in enumerate(zip(rates, counts, strict=True)):
        if count is None or rate >= 1.0:
            out[i] = rate
            continue
        # the uniforms in the caller's stream order, so a seed gives the same draws
        out[i] = (rng.permutation(n_draws) + rng.random(n_draws)) / n_draws
        drawn.append((i, rate * count, (1.0 - rate) * count))
    # the beta ppf costs about a microsecond a value (as much as ten rows of a kernel):
    # slices of the rows on the cores; scipy's ufuncs release the GIL and compute each
    # value alone, so the split does not change a bit
    jobs = resolve_jobs(None, 10 * n_draws * len(drawn))
    edges = np.linspace(0, n_draws, jobs + 1).astype(int).tolist()
    cells = [(i, a, b, lo, hi) for i, a, b in drawn for lo, hi in itertools.pairwise(edges)]

    def invert(cell: tuple[int, float, float, int, int]) -> None:
        i, a, b, lo, hi = cell
        out[i, lo:hi] = special.betaincinv(a, b, out[i, lo:hi])

    if jobs > 1:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(invert, cells))
    else:
        for cell in cells:
            invert(cell)
    return out


def _chain(rates: Any) -> Any:
    """Win probability from each row: the product of the rates from it down to won.

    ``rates`` has one row per open stage (top first; a 1-D vector or a
    matrix of draws); the result has one more row, the won row (1).
    """
    r = np.asarray(rates, dtype=np.float64)
    ones = np.ones((1, *r.shape[1:]))
    stacked = np.concatenate([r, ones], axis=0)
    return np.cumprod(stacked[::-1], axis=0)[::-1]


def _wins_needed(remaining: FloatArray, sizes: FloatArray, rng: np.random.Generator) -> IntArray:
    """Per draw, the number of won deals whose sizes (bootstrapped) add up to ``remaining``.

    ``sizes`` are non-negative with a positive mean.  Vectorised over draws,
    in blocks of at most ``_CELLS`` simulated deals; above ``_CLT_WINS``
    expected wins, from the normal approximation of the sum.
    """
    rem = np.asarray(remaining, dtype=np.float64).copy()
    out = np.zeros(rem.size, dtype=np.int64)
    mean = float(sizes.mean())
    large = rem / mean > _CLT_WINS
    if large.any():
        # the sum of m draws is close to Normal(m·mean, m·sd²): P(M <= m) =
        # P(S_m >= r) = u solves mean·x² − sd·z·x − r = 0 for x = sqrt(m), z = Φ⁻¹(u)
        z = stats.norm.ppf(rng.random(int(large.sum())))
        sd = float(sizes.std())
        x = (sd * z + np.sqrt((sd * z) ** 2 + 4.0 * mean * rem[large])) / (2.0 * mean)
        out[large] = _ceil_array(x * x)
        rem[large] = 0.0
    active = np.flatnonzero(rem > 0)
    while active.size:
        width = int(min(max(16.0, np.ceil(rem[active].max() / mean * 1.2) + 16), _CELLS))
        rows = active[: max(1, _CELLS // width)]
        draws = sizes[rng.integers(0, sizes.size, size=(rows.size, width))]
        cum = np.cumsum(draws, axis=1)
        hit = cum >= rem[rows, None]
        done = hit[:, -1]
        out[rows] += np.where(done, np.argmax(hit, axis=1) + 1, width)
        rem[rows] = np.where(done, 0.0, rem[rows] - cum[:, -1])
        active = np.flatnonzero(rem > 0)
    return out


#: Draws per independent random stream of :func:`_pipeline_revenue`: the streams are
#: spawned from the caller's generator, so the draws depend on the seed only, never on
#: how many threads share them out.
_DRAWS_PER_STREAM = 1_000
#: Cells (deal x draw) per block: a quarter of a megabyte of random bytes, which stays
#: in the core's cache between drawing and adding (8 MB blocks run at memory speed)
_REVENUE_CELLS = 2**18
#: A cell's first comparison reads 8 random bits: they decide whether U < p but in one
#: case out of 256, where a double-precision uniform settles it (see :func:`_wins`).
_BITS = 8
_SCALE = float(2**_BITS)
_UINT = np.dtype(f"uint{_BITS}")


def _wins(bits: Any, k: Any, frac: Any, gen: np.random.Generator) -> Any:
    """Whether each cell is won: ``bits < k``, and ``uniform < frac`` where ``bits == k``.

    ``bits`` (draws × deals) are uniform on 0..2⁸ − 1 and ``p · 2⁸ = k + frac``
    (``k`` whole, ``0 <= frac <= 1``; ``k``, ``frac`` per deal or per cell), so
    P(won) = k / 2⁸ + frac / 2⁸ = p, to double precision.
    """
    won = bits < k
    tie = np.flatnonzero(bits == k)
    if tie.size:
        row, col = np.divmod(tie, bits.shape[1])
        f = frac[col] if frac.ndim == 1 else frac[row, col]
        won[row, col] = gen.random(tie.size) < f
    return won


#: Deals won with a probability below this are simulated sparsely (see
#: :func:`_sparse_revenue`): a cell of the dense draws costs about a nanosecond, a
#: candidate win of the sparse ones about twenty.
_SPARSE = 1.0 / 32
#: Candidate wins per pass of :func:`_sparse_revenue` (8 MB of positions at most).
_SPARSE_CHUNK = 2**20


def _sparse_revenue(
    amounts: FloatArray, p: FloatArray, n_draws: int, gen: np.random.Generator
) -> FloatArray:
    """``sum(amount_i * [U_ij < p_i])`` per draw j, by thinning, for small ``p``.

    The deals fall in buckets of ``2⁻ᵇ⁻¹ < p <= 2⁻ᵇ`` (the smallest bucket takes
    every smaller ``p``).  In a bucket, the cells (deal, draw) where a
    Bernoulli(2⁻ᵇ) fires come from geometric gaps along the bucket's cells;
    each is kept with probability ``p_i · 2ᵇ``, so every cell is won with
    probability ``p_i``, independently — the same law as one uniform per cell,
    at a cost proportional to the wins (at most twice as many candidates).
    """
    out = np.zeros(n_draws)
    b = np.clip(np.floor(-np.log2(p)), 0, 40)  # gaps of 2⁴⁰ at most: no overflow
    b -= p > np.exp2(-b)  # log2's rounding: p must not exceed the bucket's bound
    for exp in np.unique(b):
        deals = np.flatnonzero(b == exp)
        bound = float(np.exp2(-exp))
        cells = deals.size * n_draws
        pos = -1  # the last candidate cell so far
        while True:
            left = (cells - pos - 1) * bound  # the candidates expected in the cells left
            size = int(min(_SPARSE_CHUNK, left + 6 * math.sqrt(left) + 64))
            gaps = gen.geometric(bound, size=size)
            cand = pos + np.cumsum(gaps)
            pos = int(cand[-1])
            cand = cand[cand < cells]
            row, draw = np.divmod(cand, n_draws)
            deal = deals[row]
            kept = gen.random(cand.size) * bound < p[deal]
            out += np.bincount(draw[kept], weights=amounts[deal[kept]], minlength=n_draws)
            if pos >= cells:
                break
    return out


def _pipeline_revenue(
    amounts: FloatArray, win_prob: Any, n_draws: int, rng: np.random.Generator
) -> FloatArray:
    """Simulated revenue of open deals: ``sum(amount_i * [U_ij < p_ij])`` per draw j.

    ``win_prob`` is one probability per deal (1-D) or a deals × draws matrix.
    Each comparison reads 8 random bits first (eight per 64-bit output of the
    generator: a ninth of the cost of a uniform) and a double-precision
    uniform only when those bits tie with ``p``'s first 8 (see :func:`_wins`):
    P(win) is ``p`` to double precision.  Deals with ``p`` below ``_SPARSE``
    are drawn by :func:`_sparse_revenue`, at a cost per win instead of per
    cell.  The amounts are added in double precision.  Blocks of draws run on
    the cores in parallel, each from its own stream.
    """
    out = np.zeros(n_draws)
    if amounts.size == 0:
        return out
    p = np.asarray(win_prob, dtype=np.float64)
    if p.ndim == 1:
        # deals that cannot be won (p = 0: they cannot close in time) add nothing and
        # sure ones (p = 1) their amount, in every draw: exact, and no draw needed
        sure = float(amounts[p >= 1.0].sum())
        keep = (p > 0.0) & (p < 1.0)
        if sure or not keep.all():
            return sure + _pipeline_revenue(amounts[keep], p[keep], n_draws, rng)
        small = p < _SPARSE
        if small.any():
            low = _sparse_revenue(amounts[small], p[small], n_draws, rng.spawn(1)[0])
            return low + _pipeline_revenue(amounts[~small], p[~small], n_draws, rng)
    starts = list(range(0, n_draws, _DRAWS_PER_STREAM))
    streams = rng.spawn(len(starts))
    block = max(4, _REVENUE_CELLS // amounts.size)

    def split(q: Any) -> tuple[Any, Any]:
        # p = 1 gives k = 2^8 - 1 and frac = 1: won on every tie, so always
        scaled = np.clip(q, 0.0, 1.0) * _SCALE
        k = np.minimum(np.floor(scaled), _SCALE - 1.0)
        return k.astype(_UINT), scaled - k

    k1, f1 = split(p) if p.ndim == 1 else (None, None)

    def fill(start: int, gen: np.random.Generator) -> None:
        stop_all = min(n_draws, start + _DRAWS_PER_STREAM)
        for lo in range(start, stop_all, block):
            hi = min(stop_all, lo + block)
            cells = (hi - lo) * amounts.size
            raw = gen.bit_generator.random_raw(-(-cells * _BITS // 64))
            bits = raw.view(_UINT)[:cells].reshape(hi - lo, amounts.size)
            k, f = (k1, f1) if k1 is not None else split(p[:, lo:hi].T)
            out[lo:hi] = _wins(bits, k, f, gen).view(np.uint8) @ amounts

    jobs = resolve_jobs(None, amounts.size * n_draws // 8)
    if jobs > 1 and len(starts) > 1:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(fill, starts, streams))
    else:
        for start, gen in zip(starts, streams, strict=True):
            fill(start, gen)
    return out


#: Below this chance that any of the draws falls short, :func:`_surely_covers` skips them.
_NEGLIGIBLE = 1e-9


def _surely_covers(target: float, amounts: FloatArray, probs: FloatArray, n_draws: int) -> bool:
    """Whether the open deals' revenue reaches ``target`` in every draw, bar a negligible chance.

    Bernstein's inequality bounds the lower tail of ``S = sum(amount_i * B_i)``,
    B_i ~ Bernoulli(p_i) independent: with mean μ, variance V and
    ``M = max(amount_i * p_i)`` (the most any one deal can fall below its mean),
    ``P(S <= μ - t) <= exp(-t² / (2 (V + M t / 3)))``.  When that bound at
    ``t = μ - target``, times the number of draws, is below ``_NEGLIGIBLE``,
    every draw would cover the target: the simulation would return the same
    answer (no wins needed) with probability above 1 - 10⁻⁹, so it is skipped.
    """
    contrib = amounts * probs
    mean = float(contrib.sum())
    t = mean - float(target)
    if t <= 0:
        return False
    var = float(np.dot(amounts * contrib, 1.0 - probs))
    # a sure deal (p = 1) never falls below its mean: only the others bound the fall
    unsure = contrib[probs < 1.0]
    worst = float(unsure.max()) if unsure.size else 0.0
    exponent = -(t * t) / (2.0 * (var + worst * t / 3.0))
    return bool(exponent + math.log(n_draws) < math.log(_NEGLIGIBLE))


def _poisson_binomial_pmf(p: FloatArray) -> FloatArray:
    """Exact distribution of the number of successes of independent Bernoulli(p_i).

    Multiplies the generating polynomials ``(1 - p_i) + p_i z`` pairwise in a
    balanced tree, each level as one batch of FFT products.
    """
    n = p.size
    if n == 0:
        return np.ones(1)
    size = 1 << max(0, (n - 1).bit_length())
    polys = np.zeros((size, 2))
    polys[:, 0] = 1.0
    polys[:n, 0] = 1.0 - p
    polys[:n, 1] = p
    while polys.shape[0] > 1:
        length = 2 * polys.shape[1] - 1
        fa = np.fft.rfft(polys[0::2], length, axis=1)
        fb = np.fft.rfft(polys[1::2], length, axis=1)
        polys = np.fft.irfft(fa * fb, length, axis=1)
    pmf = np.clip(polys[0, : n + 1], 0.0, 1.0)
    return np.asarray(pmf / pmf.sum(), dtype=np.float64)


# ----------------------------------------------------------------------------
# validation helpers
# ----------------------------------------------------------------------------
def _check_rate(value: Any, *, name: str, func: str) -> float:
    return check_fraction(value, name=name, func=func, high_inclusive=True)


def _check_confidence(value: Any, *, func: str) -> float | None:
    if value is None:
        return None
    return check_fraction(value, name="confidence", func=func)


def _check_seed(value: Any, *, func: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise param_error(func, "seed", "a non-negative integer or None", value)
    return int(value)


def _as_sizes(value: Any, *, func: str, name: str = "deal_size_sample") -> FloatArray:
    """A 1-D float array of observed won-deal amounts (non-negative, positive mean)."""
    expected = "a non-empty 1-D array of non-negative, finite amounts with a positive mean"
    if isinstance(value, str | bytes | Mapping) or value is None:
        raise param_error(func, name, expected, value)
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise param_error(func, name, expected, value) from None
    if arr.ndim != 1 or arr.size == 0:
        raise param_error(func, name, expected, value)
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        msg = (
            f"The {name!r} parameter of {func} must be {expected}. Got {int(bad.sum()):,} of "
            f"{arr.size:,} values that are negative, NaN or infinite (first: {arr[first]!r} "
            f"at position {first}) instead. Drop them first."
        )
        raise InvalidParameterError(msg)
    if not arr.sum() > 0:
        raise param_error(func, name, expected, value)
    return arr


def _rates_from_table(table: pd.DataFrame, *, func: str) -> dict[str, float]:
    """Read ``{stage: rate}`` from a ``conversion`` / ``stage_conversion`` result table.

    Row k's ``conversion`` is the share of step k-1 that reached step k, so
    step k's rate into the next step is row k+1's ``conversion``; the last
    step is the opportunity stage (it closes at ``win_rate``).
    """
    key = "step" if "step" in table.columns else "stage"
    require_columns(table, {"stage_rates": key}, table="the stage_rates table")
    require_columns(table, {"stage_rates": "conversion"}, table="the stage_rates table")
    names = table[key].tolist()
    if len(set(names)) != len(names):
        msg = (
            f"The 'stage_rates' table passed to {func} repeats steps in its {key!r} column "
            f"(a result with by= groups?). Pass the rows of one group, e.g. "
            f"table[table['channel'] == 'email']."
        )
        raise InvalidParameterError(msg)
    conv = table["conversion"].tolist()
    return {str(names[k]): conv[k + 1] for k in range(len(names) - 1)}


def _check_stage_rates(value: Any, *, func: str) -> tuple[list[str], list[float]]:
    if value is None:
        return [], []
    if isinstance(value, pd.DataFrame):
        value = _rates_from_table(value, func=func)
    if not isinstance(value, Mapping):
        raise param_error(
            func,
            "stage_rates",
            "a mapping {stage: rate} or a conversion / stage_conversion result table",
            value,
        )
    names: list[str] = []
    rates: list[float] = []
    for stage, rate in value.items():
        if stage in (OPPORTUNITY, WON):
            msg = (
                f"The 'stage_rates' parameter of {func} must name the stages before the "
                f"opportunity stage; {stage!r} is added by {func} itself. Got {dict(value)!r} "
                f"instead."
            )
            raise InvalidParameterError(msg)
        ok = not isinstance(rate, bool) and isinstance(rate, int | float | np.number)
        if not ok or not (0.0 < float(rate) <= 1.0):
            msg = (
                f"The 'stage_rates' parameter of {func} must map each stage to a rate in "
                f"(0, 1]. Got {rate!r} for stage {stage!r} instead."
            )
            raise InvalidParameterError(msg)
        names.append(str(stage))
        rates.append(float(rate))
    return names, rates


def _check_rate_counts(value: Any, stages: list[str], *, func: str) -> list[float | None]:
    """Observations behind each rate, aligned with ``stages`` (None = exact rate)."""
    if value is None:
        return [None] * len(stages)
    if not isinstance(value, Mapping):
        raise param_error(func, "rate_counts", "a mapping {stage: observations} or None", value)
    for key, count in value.items():
        if key not in stages:
            msg = (
                f"The 'rate_counts' parameter of {func} names stage {key!r}, which has no rate. "
                f"Stages with a rate: {stages}."
            )
            hint = closest(key, stages)
            if hint is not None:
                msg += f" Hint: did you mean {hint!r}?"
            raise InvalidParameterError(msg)
        ok = not isinstance(count, bool) and isinstance(count, int | float | np.number)
        if not ok or not (np.isfinite(count) and count > 0):
            msg = (
                f"The 'rate_counts' parameter of {func} must map each stage to a positive "
                f"number of observations. Got {count!r} for stage {key!r} instead."
            )
            raise InvalidParameterError(msg)
    return [None if s not in value else float(value[s]) for s in stages]


# ----------------------------------------------------------------------------
# the engine shared by deals_needed and plan
# ----------------------------------------------------------------------------
def _solve(
    target: float,
    *,
    avg_deal: float,
    rates: list[float],
    counts: list[float | None],
    confidence: float | None,
    sizes: FloatArray | None,
    seed: int | None,
    open_amounts: FloatArray | None = None,
    open_probs: FloatArray | None = None,
) -> tuple[list[int], list[int] | None, list[float]]:
    """Needed (expected value), needed for confidence and probability, one per row.

    Rows are the open stages (``rates``, top first) then won.  Open deals
    (``open_amounts``, won with ``open_probs``) count towards the target.
    """
    rng = np.random.default_rng(seed)
    point = _chain(rates)  # (rows,)
    stochastic_rates = any(c is not None for c in counts)
    if open_amounts is None or open_probs is None:
        open_amounts, open_probs = np.empty(0), np.empty(0)
    # order-free inputs: the same deals in any row order give the same draws
    order = np.lexsort((open_probs, open_amounts))
    open_amounts, open_probs = open_amounts[order], open_probs[order]
    if sizes is not None:
        sizes = np.sort(sizes)
    has_open = open_amounts.size > 0
    draws = N_DRAWS if (stochastic_rates or sizes is not None or has_open) else 0

    # expected-value plan, net of what the open deals are expected to bring
    expected_open = 0.0
    if has_open:
        expected_open = float(np.dot(open_amounts, open_probs))
    won_needed = _ceil(max(target - expected_open, 0.0) / avg_deal)
    needed = _reverse_plan(won_needed, rates)

    # the random model: win probability per row (point or draws), wins needed
    p_rows: Any = point
    if stochastic_rates:
        p_rows = _chain(_rate_draws(rates, counts, draws, rng))  # (rows, draws)
    wins: Any = _ceil(target / avg_deal)
    if has_open or sizes is not None:
        remaining = np.full(draws, float(target))
        if has_open and _surely_covers(target, open_amounts, open_probs, draws):
            remaining[:] = 0.0
        elif has_open:
            remaining -= _pipeline_revenue(open_amounts, open_probs, draws, rng)
        if sizes is not None:
            wins = _wins_needed(remaining, sizes, rng)
        else:
            wins = np.maximum(_ceil_array(remaining / avg_deal), 0)

    n_rows = len(rates) + 1
    probability = [_prob_reach(needed[r], wins, p_rows[r])[0] for r in range(n_rows)]
    if confidence is None:
        return needed, None, probability
    for_confidence = [
        _smallest_n(wins, p_rows[r], confidence, start=needed[r]) for r in range(n_rows)
    ]
    return needed, for_confidence, probability


def _table(
    stages: Sequence[Hashable],
    rates: list[float],
    needed: list[int],
    for_confidence: list[int] | None,
    probability: list[float],
) -> pd.DataFrame:
    out: pd.DataFrame = pd.DataFrame(
        {
            "stage": stages,
            "conversion": np.array([*rates, np.nan], dtype=np.float64),
            "needed": np.array(needed, dtype=np.int64),
        }
    )
    if for_confidence is not None:
        out["needed_for_confidence"] = np.array(for_confidence, dtype=np.int64)
    out["p_hit_target"] = np.array(probability, dtype=np.float64)
    return out


# ----------------------------------------------------------------------------
# public functions
# ----------------------------------------------------------------------------
#: Keywords renamed in the API review: the old spelling keeps working for one release.
_RENAMED = {"deal_size": "avg_deal", "deal_sizes": "deal_size_sample"}


@takes_columns(renamed=_RENAMED)
def deals_needed(
    target: float,
    *,
    avg_deal: float | None = None,
    win_rate: float,
    stage_rates: Mapping[str, float] | pd.DataFrame | None = None,
    confidence: float | None = None,
    deal_size_sample: Any = None,
    rate_counts: Mapping[str, float] | None = None,
    seed: int | None = 0,
) -> pd.DataFrame:
    """How many deals each stage needs to reach a revenue target (the reverse funnel).

    Runs the funnel backwards: the won deals the target needs, then the
    opportunities, then each earlier stage.  Adds the chance that this
    expected-value plan reaches the target (often only about one half) and,
    with ``confidence``, the smallest counts that reach it with that
    probability.

    Parameters
    ----------
    target : float
        Revenue to reach (> 0), in the currency of the deal sizes.
    avg_deal : float, optional
        Average amount of a won deal (> 0).  Default: the mean of
        ``deal_size_sample``; one of the two is required (formerly
        ``deal_size=``, which still works for one release with a FutureWarning).
    win_rate : float
        Share of opportunities that are won, in (0, 1].
    stage_rates : mapping or DataFrame, optional
        Conversion of each stage before the opportunity stage into the next
        one, top of the funnel first: ``{"lead": 0.2, "qualified": 0.5}``
        means lead → qualified 0.2, qualified → opportunity 0.5.  Or a
        ``conversion`` / ``stage_conversion`` result table (columns ``step``
        or ``stage``, and ``conversion``) running from the top of the funnel
        to the opportunity stage: each step's rate is the next row's
        ``conversion`` and the last step is the opportunity stage.
    confidence : float, optional
        Probability in (0, 1) with which the target must be reached; adds
        the ``needed_for_confidence`` column.
    deal_size_sample : array-like of float, optional
        Observed amounts of won deals (non-negative, positive mean).  When
        given, revenue is simulated as a sum of amounts drawn from them
        (revenue is a sum of skewed amounts, not a count).  Formerly
        ``deal_sizes=``, which still works for one release with a FutureWarning.
    rate_counts : mapping, optional
        Number of observations behind each rate: ``{stage: n}`` for the stages
        of ``stage_rates`` and ``"opportunity"`` for the win rate (for a
        result table, the ``entities`` of the same row).  Rates with a count
        are uncertain (beta-distributed); the others are taken as exact.
    seed : int or None, default=0
        Seed of the simulations (used only with ``deal_size_sample`` or
        ``rate_counts``); None draws fresh randomness.

    Returns
    -------
    pandas.DataFrame
        One row per stage: the stages of ``stage_rates`` in order, then
        ``opportunity``, then ``won``.  Columns:

        - ``stage`` : the stage name.
        - ``conversion`` (float64) : conversion from this stage to the next (the
          win rate for ``opportunity``; NaN for ``won``).
        - ``needed`` (int64) : the expected-value plan: ``won`` =
          ceil(target / avg_deal), each earlier stage = ceil(next / conversion).
        - ``needed_for_confidence`` (int64, only with ``confidence``) :
          the smallest number of deals at this stage that reaches the target
          with probability >= ``confidence``.
        - ``p_hit_target`` (float64) : the chance that ``needed`` deals at
          this stage reach the target.

    Raises
    ------
    InvalidParameterError
        A rate outside (0, 1], a non-positive target or deal size, a
        confidence outside (0, 1), bad ``deal_size_sample`` or ``rate_counts``.

    See Also
    --------
    target_probability : The chance of reaching a target with given deals.
    plan : The same plan with every input measured from a deal table.
    plot_plan : Draw the result.

    Notes
    -----
    Each deal at a stage moves on with that stage's rate, independently of
    the others.  A chain of such Bernoulli thinnings is one Bernoulli trial
    with the product of the rates, so the wins from ``n`` deals at stage s
    are Binomial(n, p_s), p_s = rate_s × … × win_rate.  With a fixed deal
    size the target needs W = ceil(target / avg_deal) wins, and
    P(reach | n) = P(Binomial(n, p_s) >= W) is computed exactly.
    ``needed_for_confidence`` is the smallest n with that probability >=
    ``confidence``, found by exponential and bisection search (the
    probability never decreases in n).

    With ``rate_counts`` a rate r measured on m observations is drawn from
    Beta(r·m, (1 − r)·m) (mean r; fewer observations, wider), so the wins are
    beta-binomial for one uncertain rate and a mixture of binomials for
    several; a rate of 1 is taken as exact.  With ``deal_size_sample`` the number
    of wins W the target needs is itself random (amounts are drawn with
    replacement until they add up to the target; beyond 2,000 wins, from the
    normal approximation of that sum).  Both are integrated over 20,000
    seeded draws while the binomial part stays exact (the Monte Carlo
    standard error of a probability is at most 0.0035; the same draws serve
    every n, so results are reproducible and monotone in n).

    Quotients within a relative 1e-9 of an integer are that integer
    (3 / 0.3 needs 10 deals, not 11).

    Examples
    --------
    >>> import funnelkit as fk
    >>> fk.deals_needed(1_000_000, avg_deal=50_000, win_rate=0.25,
    ...                 stage_rates={"lead": 0.3, "qualified": 0.5}, confidence=0.9)
             stage  conversion  needed  needed_for_confidence  p_hit_target
    0         lead        0.30     534                    688      0.533705
    1    qualified        0.50     160                    204      0.535737
    2  opportunity        0.25      80                    100      0.542836
    3          won         NaN      20                     20      1.000000
    """
    func = "deals_needed"
    target_v = check_positive(target, name="target", func=func)
    win = _check_rate(win_rate, name="win_rate", func=func)
    names, rates = _check_stage_rates(stage_rates, func=func)
    conf = _check_confidence(confidence, func=func)
    sizes = None if deal_size_sample is None else _as_sizes(deal_size_sample, func=func)
    if avg_deal is None:
        if sizes is None:
            raise param_error(
                func, "avg_deal", "a positive number (or give deal_size_sample)", avg_deal
            )
        size = float(sizes.mean())
    else:
        size = check_positive(avg_deal, name="avg_deal", func=func)
    stages = [*names, OPPORTUNITY]
    counts = _check_rate_counts(rate_counts, stages, func=func)
    rng_seed = _check_seed(seed, func=func)

    all_rates = [*rates, win]
    needed, for_conf, prob = _solve(
        target_v,
        avg_deal=size,
        rates=all_rates,
        counts=counts,
        confidence=conf,
        sizes=sizes,
        seed=rng_seed,
    )
    return _table([*stages, WON], all_rates, needed, for_conf, prob)


@takes_columns(renamed=_RENAMED)
def target_probability(
    target: float,
    *,
    open_deals: pd.DataFrame | None = None,
    n: int | None = None,
    win_rate: float | None = None,
    avg_deal: float | None = None,
    deal_size_sample: Any = None,
    amount: str = "amount",
    probability: str = "probability",
    seed: int | None = 0,
    columns: Mapping[str, Any] | Columns | None = None,
) -> pd.DataFrame:
    """The chance of reaching a revenue target with given deals.

    Either the open pipeline (each deal with its own amount and win
    probability) or ``n`` new opportunities won at ``win_rate``.

    Parameters
    ----------
    target : float
        Revenue to reach (> 0).
    open_deals : DataFrame, optional
        One row per open deal, with its amount and its probability of being
        won.  Give this or ``n``.
    n : int, optional
        Number of new opportunities (>= 0).  Needs ``win_rate`` and
        ``avg_deal`` or ``deal_size_sample``.
    win_rate : float, optional
        Share of the new opportunities that are won, in (0, 1] (with ``n``).
    avg_deal : float, optional
        Amount of each won deal (> 0; with ``n``; formerly ``deal_size=``,
        which still works for one release with a FutureWarning).
    deal_size_sample : array-like of float, optional
        Observed amounts of won deals to draw from instead of a fixed
        ``avg_deal`` (with ``n``; formerly ``deal_sizes=``, which still works
        for one release with a FutureWarning).
    amount : str, default="amount"
        Column holding the deal value (non-negative numbers).
    probability : str, default="probability"
        Column of ``open_deals`` holding each deal's probability of being
        won, in [0, 1].
    seed : int or None, default=0
        Seed of the simulation (used only when the answer is simulated); None
        draws fresh randomness.
    columns : mapping or Columns, optional
        Column names by role (``{"deal": "Opportunity ID", "won": "Closed Won", ...}``),
        shared by every function of an analysis: each function uses the roles it
        needs and ignores the rest; keywords given explicitly take precedence. See
        :class:`funnelkit.Columns` for the roles.

    Returns
    -------
    pandas.DataFrame
        One row.  Columns:

        - ``target`` (float64) : the target.
        - ``deals`` (int64) : open deals, or ``n``.
        - ``expected_wins`` (float64) : expected number of won deals.
        - ``expected_revenue`` (float64) : expected revenue.
        - ``p_hit_target`` (float64) : the chance that revenue >= target.
        - ``std_error`` (float64) : Monte Carlo standard error of
          ``p_hit_target`` (0 when exact).
        - ``method`` : ``"exact"`` or ``"monte carlo"``.

    Raises
    ------
    InvalidParameterError
        Neither or both of ``open_deals`` and ``n``; a non-positive target
        or deal size; a rate outside (0, 1].
    ColumnNotFoundError
        ``amount`` or ``probability`` is not a column of ``open_deals``.
    InvalidDataError
        Missing or negative amounts, probabilities missing or outside [0, 1].

    See Also
    --------
    deals_needed : How many deals reach a target with a given probability.

    Notes
    -----
    Open deals are won independently.  When they all have the same amount a,
    revenue reaches the target when at least ceil(target / a) of them are
    won; that count is Poisson-binomial and computed exactly.  Otherwise the
    revenue ``sum(amount_i × won_i)`` is simulated 20,000 times.

    For ``n`` new opportunities with a fixed deal size the wins are
    Binomial(n, win_rate), exactly; with ``deal_size_sample`` the number of wins
    the target needs is simulated (amounts drawn with replacement) and the
    binomial part stays exact.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> res = fk.target_probability(100_000, n=10, win_rate=0.3, avg_deal=25_000)
    >>> res[["deals", "expected_revenue", "p_hit_target", "method"]]
       deals  expected_revenue  p_hit_target method
    0     10           75000.0     0.350389  exact
    >>> pipe = pd.DataFrame({"amount": [60_000, 50_000, 40_000],
    ...                      "probability": [0.5, 0.8, 0.9]})
    >>> res = fk.target_probability(100_000, open_deals=pipe)
    >>> round(float(res["p_hit_target"].iloc[0]), 2)  # 0.5*0.8 + 0.5*0.9 - 0.5*0.8*0.9
    0.49
    """
    func = "target_probability"
    target_v = check_positive(target, name="target", func=func)
    rng_seed = _check_seed(seed, func=func)
    if (open_deals is None) == (n is None):
        msg = (
            f"{func} needs exactly one of 'open_deals' (the open pipeline) and 'n' "
            f"(new opportunities). Got {'both' if n is not None else 'neither'}."
        )
        raise InvalidParameterError(msg)
    rng = np.random.default_rng(rng_seed)

    if open_deals is not None:
        for name, value in (
            ("win_rate", win_rate),
            ("avg_deal", avg_deal),
            ("deal_size_sample", deal_size_sample),
        ):
            if value is not None:
                raise param_error(
                    func, name, "None with open_deals (amounts come from the table)", value
                )
        df = check_frame(open_deals, table="open_deals", func=func)
        require_columns(df, {"amount": amount, "probability": probability}, table="open_deals")
        amounts, probs = _open_deal_arrays(df, amount=amount, probability=probability)
        exp_wins = float(probs.sum())
        exp_rev = float(np.dot(amounts, probs))
        if amounts.size == 0 or np.all(amounts == amounts[0]):
            a = float(amounts[0]) if amounts.size else 0.0
            pmf = _poisson_binomial_pmf(probs)
            if a > 0:
                k = _ceil(target_v / a)
                prob = float(pmf[k:].sum()) if k < pmf.size else 0.0
            else:
                prob = 0.0
            return _prob_row(target_v, amounts.size, exp_wins, exp_rev, prob, 0.0, "exact")
        order = np.lexsort((probs, amounts))  # row order does not change the draws
        revenue = _pipeline_revenue(amounts[order], probs[order], N_DRAWS, rng)
        prob = float((revenue >= target_v).mean())
        se = math.sqrt(prob * (1 - prob) / N_DRAWS)
        return _prob_row(target_v, amounts.size, exp_wins, exp_rev, prob, se, "monte carlo")

    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise param_error(func, "n", "a non-negative integer", n)
    if win_rate is None:
        raise param_error(func, "win_rate", "a number in (0, 1] (required with n)", win_rate)
    win = _check_rate(win_rate, name="win_rate", func=func)
    if (avg_deal is None) == (deal_size_sample is None):
        msg = (
            f"{func} with n needs exactly one of 'avg_deal' (a fixed amount) and "
            f"'deal_size_sample' (observed amounts to draw from). Got "
            f"{'both' if avg_deal is not None else 'neither'}."
        )
        raise InvalidParameterError(msg)
    n_int = int(n)
    if avg_deal is not None:
        size = check_positive(avg_deal, name="avg_deal", func=func)
        prob, se = _prob_reach(n_int, _ceil(target_v / size), win)
        return _prob_row(target_v, n_int, n_int * win, n_int * win * size, prob, se, "exact")
    sizes = np.sort(_as_sizes(deal_size_sample, func=func))
    wins = _wins_needed(np.full(N_DRAWS, target_v), sizes, rng)
    prob, se = _prob_reach(n_int, wins, win)
    exp_rev = n_int * win * float(sizes.mean())
    return _prob_row(target_v, n_int, n_int * win, exp_rev, prob, se, "monte carlo")


def _open_deal_arrays(
    df: pd.DataFrame, *, amount: str, probability: str
) -> tuple[FloatArray, FloatArray]:
    from funnelkit._validate import as_amount

    amounts = as_amount(df, amount, table="open_deals", keyword="amount")
    null = amounts.isna().to_numpy()
    if null.any():
        first = int(np.flatnonzero(null)[0])
        msg = (
            f"open_deals[{amount!r}] has {int(null.sum()):,} of {len(df):,} rows without an "
            f"amount (first at index {_py(df.index[first])!r}). Fill them with an estimate "
            f"(e.g. the average won deal size) or drop them."
        )
        raise InvalidDataError(
            msg, column=amount, reason="null", n_rows=int(null.sum()), examples=df[null].head()
        )
    probs = pd.to_numeric(df[probability], errors="coerce").astype("float64").to_numpy()
    bad = ~((probs >= 0) & (probs <= 1))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        msg = (
            f"open_deals[{probability!r}] has {int(bad.sum()):,} of {len(df):,} rows that are "
            f"not probabilities in [0, 1] (first: {_py(df[probability].iloc[first])!r} at index "
            f"{_py(df.index[first])!r}). Give each open deal its chance of being won, e.g. the "
            f"measured win rate of its stage."
        )
        raise InvalidDataError(
            msg,
            column=probability,
            reason="not_probability",
            n_rows=int(bad.sum()),
            examples=df[bad].head(),
        )
    return amounts.to_numpy(dtype=np.float64), probs


def _py(value: Any) -> Any:
    """A numpy scalar as the Python scalar it holds (for messages)."""
    return value.item() if isinstance(value, np.generic) else value


def _prob_row(
    target: float,
    deals: int,
    expected_wins: float,
    expected_revenue: float,
    prob: float,
    se: float,
    method: str,
) -> pd.DataFrame:
    out: pd.DataFrame = pd.DataFrame(
        {
            "target": np.array([target], dtype=np.float64),
            "deals": np.array([deals], dtype=np.int64),
            "expected_wins": np.array([expected_wins], dtype=np.float64),
            "expected_revenue": np.array([expected_revenue], dtype=np.float64),
            "p_hit_target": np.array([prob], dtype=np.float64),
            "std_error": np.array([se], dtype=np.float64),
            "method": [method],
        }
    )
    return out


# ----------------------------------------------------------------------------
# plan: every input measured from the user's deal table
# ----------------------------------------------------------------------------
_NS_MAX = np.iinfo(np.int64).max


def _win_curves(
    durations: IntArray, outcome: IntArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Times, share still open S(t) and cumulative incidence of a win CIF(t).

    Aalen–Johansen with two competing outcomes (1 = won, 2 = lost, 0 = open,
    censored), from the shared kernel.
    """
    times, cif, at_risk, _, events = cumulative_incidence(durations, outcome, 1)
    surv = np.cumprod(1.0 - events / at_risk) if times.size else np.empty(0)
    return np.asarray(times, dtype=np.float64), np.asarray(surv, dtype=np.float64), cif


def _step(times: FloatArray, values: FloatArray, at: FloatArray, start: float) -> FloatArray:
    """Right-continuous step function through ``(times, values)``, ``start`` before."""
    idx = np.searchsorted(times, at, side="right") - 1
    picked = values[np.maximum(idx, 0)] if values.size else np.full(at.shape, start)
    return np.asarray(np.where(idx >= 0, picked, start), dtype=np.float64)


def _plan_by_group(
    df: pd.DataFrame,
    target: Any,
    by: Any,
    *,
    history: pd.DataFrame | None,
    stages: Sequence[Hashable] | None,
    period_end: Any,
    confidence: float,
    as_of: Any,
    keywords: dict[str, Any],
    columns: Any,
) -> pd.DataFrame:
    """:func:`plan` once per by-group, every group observed at the same ``as_of``."""
    func = "plan"
    by_cols = as_list(by, func=func)
    for c in by_cols:
        require_columns(df, {"by": c}, table="deals")
    deal = keywords["deal"]
    if history is not None and stages is not None:  # once, not in every group's words
        names = _check_plan_stages(stages, func=func)
        stage = keywords["stage"]
        require_columns(history, {"stage": stage}, table="history")
        _check_stage_values(history, names, table="history", stage=stage, func=func)
        if stage in df.columns:
            _check_stage_values(df, names, table="deals", stage=stage, func=func)
    if as_of is None:  # the one observation date of the tables passed, for every group
        entries = None
        if history is not None:
            require_columns(df, {"deal": deal}, table="deals")
            entries = read_history(
                history,
                df[deal],
                deal=deal,
                stage=keywords["stage"],
                entered=keywords["entered"],
                errors=keywords["errors"],
                func=func,
            )
        whole = read_deals(
            df,
            func=func,
            **{k: keywords[k] for k in ("deal", "created", "closed", "status", "won", "lost")},
            errors=keywords["errors"],
            observed=NAT if entries is None else entries.latest,
        )
        if whole.as_of != NAT:
            stamp = pd.Timestamp(whole.as_of, unit="ns", tz="UTC" if whole.tz else None)
            as_of = stamp.tz_convert(whole.tz) if whole.tz is not None else stamp
    codes, keys = group_codes(df, by_cols)
    goals = group_targets(target, keys, func=func)
    blocks = []
    for g, label in enumerate(group_labels(keys)):  # one plan per group: never one per deal
        part = df.iloc[np.flatnonzero(codes == g)]
        part_history = (
            None if history is None else history[history[deal].isin(part[deal].to_numpy())]
        )
        goal = goals[g]
        try:
            block = plan(
                part,
                goal,
                history=part_history,
                stages=stages,
                period_end=period_end,
                confidence=confidence,
                as_of=as_of,
                columns=columns,
                **keywords,
            )
        except InvalidDataError as exc:
            msg = (
                f"{func}(by={by_cols!r}): the group {label!r} cannot be planned: {exc} "
                f"Leave that group out, or group more coarsely."
            )
            raise InvalidDataError(
                msg, column=exc.column, reason=exc.reason, n_rows=exc.n_rows
            ) from None
        for j, c in enumerate(by_cols):
            block.insert(j, c, pd.Series([keys[c].iloc[g]] * len(block), dtype=keys[c].dtype))
        blocks.append(block)
    if not blocks:
        return plan(df.iloc[:0], 1.0, history=history, stages=stages, as_of=as_of, **keywords)
    out: pd.DataFrame = pd.concat(blocks, ignore_index=True)
    return out


@takes_columns(renamed={"time": "entered"})
def plan(
    deals: pd.DataFrame,
    target: float | Mapping[Any, float],
    *,
    by: Hashable | Sequence[Hashable] | None = None,
    history: pd.DataFrame | None = None,
    stages: Sequence[Hashable] | None = None,
    period_end: Any = None,
    confidence: float = 0.9,
    as_of: Any = None,
    deal: str = "deal_id",
    created: str = "created_at",
    closed: str = "closed_at",
    status: str = "status",
    won: str = "won",
    lost: str = "lost",
    amount: str = "amount",
    stage: str = "stage",
    entered: str = "entered_at",
    seed: int | None = 0,
    errors: Literal["raise", "warn"] = "raise",
    columns: Mapping[str, Any] | Columns | None = None,
) -> pd.DataFrame:
    """Plan a revenue target from the user's own deals: rates, sizes and timing measured.

    Measures the win rate, the distribution of won-deal amounts, the stage
    rates (with ``history``) and the time deals take to close, counts what
    the open pipeline is expected to bring, and returns the reverse funnel
    for the rest of the target with its odds, plus the latest date deals
    must enter each stage to close before ``period_end``.

    Parameters
    ----------
    deals : pandas.DataFrame
        Deal table: one row per deal (opportunity).
    target : float or mapping
        Revenue to reach (> 0) with deals closed before ``period_end``.  With
        ``by``: the same target for every group, or a mapping from group value
        (a tuple for several ``by`` columns) to that group's target.
    by : str or list of str, optional
        Column(s) of ``deals`` to group by: one plan per group (e.g. per region),
        each measured on the group's own deals and history, all observed at the
        same ``as_of`` and planned to the same ``period_end``; the group columns
        come first.
    history : pandas.DataFrame, optional
        Stage history (one row per stage entry of a deal).  With ``stages``,
        the plan has one row per stage.
    stages : list, optional
        The stages of ``history`` in funnel order, the last one being the
        stage deals close from; history rows at other stages are ignored.
        Matched by value, so integer stage ids work as ``[1, 2, 3]``; the plan's
        ``stage`` column holds these values.
    period_end : datetime-like, optional
        End of the planning period (exclusive).  Default: the start of the
        calendar quarter after ``as_of``.
    confidence : float, default=0.9
        Probability in (0, 1) with which the target must be reached; also
        the share of won deals that must have closed by ``period_end`` for
        the ``enter_by`` dates.
    as_of : datetime-like, optional
        Observation date: the numbers as they were then (deals created later are left
        out, deals closed later are open, later history entries are ignored). Default:
        the latest date observed in the tables passed (creation dates, close dates of
        won and lost deals, history entries); never an open deal's expected close date,
        never "today".
    deal : str, default="deal_id"
        Column that identifies the deal.
    created : str, default="created_at"
        Column holding the date the deal was created.
    closed : str, default="closed_at"
        Column holding the date the deal was closed (NaT while open).
    status : str, default="status"
        Column holding the deal status.
    won : str, default="won"
        Value of ``status`` meaning the deal was won.
    lost : str, default="lost"
        Value of ``status`` meaning the deal was lost. Any other value means open.
    amount : str, default="amount"
        Column holding the deal value (non-negative numbers).
    stage : str, default="stage"
        Column holding the stage name.
    entered : str, default="entered_at"
        Column of the stage history holding the time the deal entered the stage:
        datetime64 of any unit or time zone, or ISO 8601 strings (formerly ``time=``,
        which still works for one release with a FutureWarning).
    seed : int or None, default=0
        Seed of the simulations; None draws fresh randomness.
    errors : {"raise", "warn"}, default="raise"
        What to do with contradictory rows (closed before created; won or lost with no close
        date; history entries of deals not in the deal table): raise InvalidDataError, or leave
        them out with a FunnelkitWarning.
    columns : mapping or Columns, optional
        Column names by role (``{"deal": "Opportunity ID", "won": "Closed Won", ...}``),
        shared by every function of an analysis: each function uses the roles it
        needs and ignores the rest; keywords given explicitly take precedence. See
        :class:`funnelkit.Columns` for the roles.

    Returns
    -------
    pandas.DataFrame
        One row per stage (the ``stages``, or ``opportunity`` without a
        history), then ``won``.  Columns:

        - ``stage`` : the stage name, as given in ``stages``.
        - ``conversion`` (float64) : measured conversion to the next stage (the
          win rate for the last stage; NaN for ``won``).
        - ``closed`` (int64) : closed deals counted at the stage, the
          denominator of ``conversion``.
        - ``needed`` (int64) : new deals that must enter the stage, the
          expected-value plan for the target minus the open pipeline's
          expected revenue.
        - ``needed_for_confidence`` (int64) : new deals that must enter the
          stage for the target (with the open pipeline) to be reached with
          probability >= ``confidence``.
        - ``p_hit_target`` (float64) : the chance that ``needed`` new deals at
          the stage, with the open pipeline, reach the target.
        - ``open`` (int64) : deals open at ``as_of`` whose furthest stage
          is this one.
        - ``open_expected`` (float64) : their expected revenue (amount ×
          measured win probability from the stage).
        - ``time_to_close`` (timedelta64[ns]) : the ``confidence`` quantile of
          the time from entering the stage to a win (Kaplan–Meier, open deals
          censored at ``as_of``).
        - ``enter_by`` (datetime64[ns]) : ``period_end - time_to_close``, the
          latest date deals should enter the stage.
        - ``time_left`` (timedelta64[ns]) : ``enter_by - as_of`` (negative:
          too late for this period).

    Raises
    ------
    ColumnNotFoundError
        A keyword names a column that is not in the table.
    InvalidDataError
        Null or repeated deal ids, unparseable dates, bad amounts; no closed deals or no
        won deal with an amount to measure from; stage values that equal a name of
        ``stages`` only as text (``1`` against ``"1"``).
    InvalidParameterError
        A non-positive target, a confidence outside (0, 1), ``history``
        without ``stages`` (or the reverse), bad dates.

    See Also
    --------
    deals_needed : The same plan from given rates.
    plot_plan : Draw the result.

    Notes
    -----
    Measured at ``as_of`` from the deals created by then; a deal closed after
    ``as_of`` counts as open, a won or lost deal without a close date counts
    as closed (but not in the timing).  Deals without a creation date are left out
    with a :class:`FunnelkitWarning` (they cannot be placed in time).

    - win rate: won / (won + lost) among closed deals (closed basis).
    - deal sizes: the amounts of won deals; revenue is simulated by drawing
      from them (``deals_needed(deal_size_sample=...)``).
    - stage rates (with ``history``): among closed deals, a deal counts at
      the first stage and every stage up to the furthest it reached (skips
      and moves back do not matter; the deal table's ``stage`` counts as
      reached, as in :func:`pipeline` and :func:`deal_entities`); a won deal
      counts at every stage.  The
      rate of stage k is counted(k + 1) / counted(k); the last stage's rate
      is won / counted(last).  Open deals are left out because they may
      still move on.  Each rate is uncertain with the weight of its
      ``closed_deals`` (``deals_needed(rate_counts=...)``).
    - entering a stage: the earliest entry into it or any later stage
      (``created`` without a history).  A deal whose furthest stage comes
      from the deal table alone has no entry time there: it is left out of
      that stage's ``time_to_close``, and an open one is taken to have
      entered it at ``as_of``.
    - open pipeline: each open deal is won with the measured probability
      from its furthest stage (missing amounts: the mean won amount), all
      assumed to close within the period.  Its expected revenue is taken off
      the target for ``needed``; its simulated revenue is added for
      ``needed_for_confidence`` and ``probability``.

    Examples
    --------
    >>> import pandas as pd
    >>> import funnelkit as fk
    >>> deals = pd.DataFrame({
    ...     "deal_id": ["a", "b", "c", "d", "e", "f"],
    ...     "created_at": pd.to_datetime(["2025-01-02", "2025-01-05", "2025-01-09",
    ...                                   "2025-02-01", "2025-02-10", "2025-03-01"]),
    ...     "closed_at": pd.to_datetime(["2025-02-01", "2025-02-15", "2025-03-01",
    ...                                  "2025-03-10", None, None]),
    ...     "status": ["won", "lost", "won", "lost", "open", "open"],
    ...     "amount": [10_000, 8_000, 14_000, 9_000, 12_000, None],
    ... })
    >>> res = fk.plan(deals, 100_000, period_end="2025-07-01")
    >>> res[["stage", "conversion", "needed", "needed_for_confidence", "open"]]
             stage  conversion  needed  needed_for_confidence  open
    0  opportunity         0.5      16                     41     2
    1          won         NaN       8                      9     0
    """
    func = "plan"
    df = check_frame(deals, table="deals", func=func)
    if by is not None:
        return _plan_by_group(
            df,
            target,
            by,
            history=history,
            stages=stages,
            period_end=period_end,
            confidence=confidence,
            as_of=as_of,
            keywords=dict(
                deal=deal,
                created=created,
                closed=closed,
                status=status,
                won=won,
                lost=lost,
                amount=amount,
                stage=stage,
                entered=entered,
                seed=seed,
                errors=errors,
            ),
            columns=columns,
        )
    if isinstance(target, Mapping):
        raise param_error(func, "target", "a positive number (a mapping needs by=)", target)
    target_v = check_positive(target, name="target", func=func)
    conf = check_fraction(confidence, name="confidence", func=func)
    rng_seed = _check_seed(seed, func=func)
    if (history is None) != (stages is None):
        msg = (
            f"{func} needs 'history' and 'stages' together (the stage history and its stages "
            f"in funnel order), or neither. Got only "
            f"{'history' if history is not None else 'stages'}."
        )
        raise InvalidParameterError(msg)
    entries = None
    if history is not None:
        names = _check_plan_stages(stages, func=func)
        require_columns(df, {"deal": deal}, table="deals")
        entries = read_history(
            history,
            df[deal],
            deal=deal,
            stage=stage,
            entered=entered,
            errors=errors,
            func=func,
        )
        # the stages are matched by value: a value equal to a stage only as text is an error
        _check_stage_values(history, names, table="history", stage=stage, func=func)
        if stage in df.columns:
            _check_stage_values(df, names, table="deals", stage=stage, func=func)
    d = read_deals(
        df,
        func=func,
        deal=deal,
        created=created,
        closed=closed,
        status=status,
        won=won,
        lost=lost,
        errors=errors,
        amount=amount,
        as_of=as_of,
        observed=NAT if entries is None else entries.latest,
        currency=currency_column(columns),
    )
    d = drop_unusable(d, d.created == NAT, "they have no created date", func=func)
    if not len(d.outcome):
        return _empty_plan(d.tz)
    if d.as_of == NAT:
        msg = f"{func}: the deals have no dates, so there is no observation date. Pass as_of=."
        raise InvalidDataError(msg, column=created, reason="no_dates", n_rows=len(d.frame))
    tz = d.tz
    as_of_ns = d.as_of
    as_of_ts = pd.Timestamp(as_of_ns, unit="ns", tz="UTC" if tz is not None else None)
    as_of_ts = as_of_ts.tz_convert(tz) if tz is not None else as_of_ts
    if period_end is None:
        start = as_of_ts.tz_localize(None) if tz is not None else as_of_ts
        end = start.to_period("Q").end_time.normalize() + pd.Timedelta(days=1)
        period_end_ts = end.tz_localize(tz) if tz is not None else end
    else:
        period_end_ts = check_date(period_end, tz=tz, name="period_end", func=func)

    # statuses at as_of (the deal reader: created later left out, closed later open)
    created_ns, closed_ns = d.created, d.closed
    amounts = d.amount if d.amount is not None else np.full(len(created_ns), np.nan)
    nat = NAT
    exists = np.ones(len(created_ns), dtype=bool)
    is_won = d.outcome == WON_CODE
    is_lost = d.outcome == LOST_CODE
    is_open = d.outcome == OPEN_CODE
    n_won, n_closed = int(is_won.sum()), int(is_won.sum() + is_lost.sum())
    sizes_all = amounts[is_won]
    sizes_all = sizes_all[~np.isnan(sizes_all)]
    if n_won == 0 or sizes_all.size == 0 or not sizes_all.sum() > 0:
        msg = (
            f"deals has {n_closed:,} deals closed by {as_of_ts} of which {n_won:,} won "
            f"({sizes_all.size:,} with a positive {amount!r}); {func} needs won deals with "
            f"amounts to measure the win rate and deal sizes. Check status= (won={won!r}, "
            f"lost={lost!r}) and as_of=."
        )
        raise InvalidDataError(msg, column=status, reason="no_won_deals", n_rows=n_won)
    sizes = sizes_all
    mean_size = float(sizes.mean())

    # stages: counts at each stage among closed deals, entry times
    if history is None or stages is None:
        names = [OPPORTUNITY]
        row = np.zeros(len(created_ns), dtype=np.int64)
        entry = created_ns[:, None]
    else:
        assert entries is not None
        # the deal table's stage counts in the furthest stage, as in pipeline and
        # deal_entities (a history that records only some moves misses the rest)
        paths = deal_paths(
            entries.restrict(d.rows, len(df)),
            names,
            n_deals=len(created_ns),
            as_of=as_of_ns,
            closed=closed_ns,
            table_stage=d.frame[stage].to_numpy(dtype=object) if stage in d.frame else None,
        )
        row, entry = _row_and_entry(paths.furthest, paths.entry, is_won, created_ns)
    n_stages = len(names)
    closed_mask = is_won | is_lost
    counted = np.array(
        [int((closed_mask & (row >= k)).sum()) for k in range(n_stages)], dtype=np.int64
    )
    reached = np.append(counted[1:], n_won)
    # won deals count at every stage and n_won > 0, so every rate is > 0
    rates_arr = reached / counted
    rates = [float(r) for r in rates_arr]

    # time from entering each stage to a win or a loss (open deals censored)
    horizon = float(max(timestamp_ns(period_end_ts) - as_of_ns, 0))
    outcome = np.where(is_won, 1, np.where(is_lost, 2, 0)).astype(np.int64)
    end_ns = np.where(is_open, as_of_ns, closed_ns)
    open_probs = np.zeros(int(is_open.sum()))
    open_rows = row[is_open]
    ttc: list[Any] = []
    for k in range(n_stages):
        col = min(k, entry.shape[1] - 1)
        cohort = exists & (row >= k) & (entry[:, col] != _NS_MAX) & (end_ns != nat)
        durations = np.maximum(end_ns[cohort] - entry[cohort, col], 0)
        times, surv, cif = _win_curves(durations, outcome[cohort])
        # time by which a share `confidence` of the eventual wins happened
        quantile = conditional_quantile(times, cif, conf)
        ttc.append(pd.Timedelta(int(quantile), unit="ns") if np.isfinite(quantile) else pd.NaT)
        # open deals whose furthest stage is k: chance of a win before period_end
        here = open_rows == k
        # no entry time (the deal table's stage alone): taken as entered at as_of
        entered_at = entry[is_open, col][here]
        entered_at = np.where(entered_at == _NS_MAX, as_of_ns, entered_at)
        age = np.maximum(as_of_ns - entered_at, 0).astype(np.float64)
        still = _step(times, surv, age, 1.0)
        gain = _step(times, cif, age + horizon, 0.0) - _step(times, cif, age, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            open_probs[here] = np.where(still > 0, np.clip(gain / still, 0.0, 1.0), 0.0)
    ttc.append(pd.Timedelta(0))

    open_amounts = np.where(np.isnan(amounts[is_open]), mean_size, amounts[is_open])
    needed, for_conf, prob = _solve(
        target_v,
        avg_deal=mean_size,
        rates=rates,
        counts=[float(c) for c in counted],
        confidence=conf,
        sizes=sizes,
        seed=rng_seed,
        open_amounts=open_amounts,
        open_probs=open_probs,
    )
    out = _table([*names, WON], rates, needed, for_conf, prob)
    out.insert(2, "closed", np.append(counted, n_won).astype(np.int64))
    out["open"] = np.bincount(open_rows, minlength=n_stages + 1).astype(np.int64)
    out["open_expected"] = np.bincount(
        open_rows, weights=open_amounts * open_probs, minlength=n_stages + 1
    ).astype(np.float64)
    out["time_to_close"] = pd.Series(ttc, dtype="timedelta64[ns]")
    enter_by = period_end_ts - out["time_to_close"]
    out["enter_by"] = enter_by
    out["time_left"] = enter_by - as_of_ts
    return out


def _empty_plan(tz: Any) -> pd.DataFrame:
    """The plan's table with no rows: no deals, nothing to measure a plan from."""
    stamp = "datetime64[ns]" if tz is None else pd.DatetimeTZDtype("ns", tz)
    empty: pd.DataFrame = pd.DataFrame(
        {
            "stage": pd.Series([], dtype=object),
            "conversion": pd.Series([], dtype=np.float64),
            "closed": pd.Series([], dtype=np.int64),
            "needed": pd.Series([], dtype=np.int64),
            "needed_for_confidence": pd.Series([], dtype=np.int64),
            "p_hit_target": pd.Series([], dtype=np.float64),
            "open": pd.Series([], dtype=np.int64),
            "open_expected": pd.Series([], dtype=np.float64),
            "time_to_close": pd.Series([], dtype="timedelta64[ns]"),
            "enter_by": pd.Series([], dtype=stamp),
            "time_left": pd.Series([], dtype="timedelta64[ns]"),
        }
    )
    return empty


def _check_plan_stages(stages: Any, *, func: str) -> list[Hashable]:
    """``stages``: a non-empty list of distinct stage names in funnel order, without 'won'.

    The names are kept as given (``[1, 2, 3]`` matches integer stage ids, as in
    :func:`pipeline` and :func:`stage_conversion`); they must be distinct also
    when printed, so that every row of the plan has its own label.
    """
    if isinstance(stages, str) or not isinstance(stages, list | tuple) or not stages:
        raise param_error(func, "stages", "a non-empty list of stage names in funnel order", stages)
    names = list(stages)
    for s in names:
        try:
            hash(s)
        except TypeError:
            raise param_error(func, "stages", "a list of hashable stage names", stages) from None
        if pd.api.types.is_scalar(s) and pd.isna(s):
            raise param_error(
                func, "stages", "a list of stage names without missing values", stages
            )
    text = [str(s) for s in names]
    if len(set(names)) != len(names) or len(set(text)) != len(text) or WON in text:
        raise param_error(
            func, "stages", f"a list of distinct stage names (without {WON!r})", stages
        )
    return names


def _as_text(value: Any) -> str:
    """A stage value as it prints: an integral float as the integer (1.0 -> '1')."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _check_stage_values(
    frame: pd.DataFrame, names: list[Hashable], *, table: str, stage: str, func: str
) -> None:
    """Refuse stage values that equal a name of ``stages`` only as text (``1`` vs ``'1'``).

    Such values never match (the plan would count no deal at those stages), so
    the error names the column, the values and the ``stages`` that match them.
    Values that differ from every name also as text are other stages, ignored
    as documented.
    """
    frame = check_frame(frame, table=table, func=func)  # pyarrow / Polars tables too
    values = frame[stage]
    if all(isinstance(s, str) for s in names):
        # text against text always matches as text does: skip the scan of a long column
        if values.dtype != object and pd.api.types.is_string_dtype(values.dtype):
            return
        if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) == "string":
            return
    seen = [v for v in pd.unique(values) if not (pd.api.types.is_scalar(v) and pd.isna(v))]
    if not seen:
        return
    index = pd.Index(names)
    outside = [v for v, k in zip(seen, index.get_indexer(seen), strict=True) if k < 0]
    if not outside:
        return
    by_text = {_as_text(s): s for s in names}
    clash = {v: by_text[_as_text(v)] for v in outside if _as_text(v) in by_text}
    if not clash:
        return
    mask = values.isin(list(clash)).to_numpy(dtype=bool)
    column_values = {by_text[_as_text(v)]: _py(v) for v in clash}
    fixed = [column_values.get(s, _py(s)) for s in names]
    shown = ", ".join(
        f"{_py(v)!r} ({type(_py(v)).__name__}) where 'stages' has {_py(s)!r} "
        f"({type(_py(s)).__name__})"
        for v, s in list(clash.items())[:5]
    )
    more = f" and {len(clash) - 5} more" if len(clash) > 5 else ""
    n_bad = int(mask.sum())
    msg = (
        f"{table}[{stage!r}] has {n_bad:,} of {len(values):,} rows whose stage matches a "
        f"name of 'stages' only as text: {shown}{more}, so {func} would count no deal "
        f"there. Pass the stages as the column holds them (stages={fixed!r}), or convert "
        f"the column to match them."
    )
    raise InvalidDataError(
        msg,
        column=str(stage),
        reason="unknown_stage",
        n_rows=n_bad,
        examples=frame.iloc[np.flatnonzero(mask)[:N_EXAMPLES]],
    )


def _row_and_entry(
    furthest: IntArray, first_entry: IntArray, is_won: Any, created_ns: IntArray
) -> tuple[IntArray, IntArray]:
    """Each deal's stage row (furthest entered; won: the last) and entry times.

    The entry time at stage k is the earliest entry into any stage >= k
    (``_NS_MAX`` when none); the first stage is entered at creation at the latest.
    """
    n_stages = first_entry.shape[1]
    row = np.where(is_won, n_stages - 1, np.maximum(furthest, 0)).astype(np.int64)
    first = np.where(first_entry == NAT, _NS_MAX, first_entry)
    entry = np.ascontiguousarray(np.minimum.accumulate(first[:, ::-1], axis=1)[:, ::-1])
    entry[:, 0] = np.minimum(entry[:, 0], created_ns)
    return row, entry
