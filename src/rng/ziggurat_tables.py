#!/usr/bin/env python3
"""Writes src/rng/ziggurat_tables.rs: the ziggurat of the standard normal with LAYERS layers
(Marsaglia & Tsang 2000), computed in 60-digit arithmetic (mpmath) and rounded once to f64.

    python3 src/rng/ziggurat_tables.py > src/rng/ziggurat_tables.rs

With f(x) = exp(-x^2/2) and the tail mass T(r) = integral_r^inf f = sqrt(pi/2) erfc(r/sqrt 2), every
layer has the area v = r f(r) + T(r): x_1 = r, x_{i+1} = f^-1(f(x_i) + v/x_i), and r is the root
(found by bisection) at which the top layer ends at 0 exactly, f(x_{n-1}) + v/x_{n-1} = 1.
X[0] = v/f(r) is the width of the base strip's rectangle of equal area, X[n] = 0, F[i] = f(X[i]).
"""
import sys
import mpmath as mp

LAYERS = int(sys.argv[1]) if len(sys.argv) > 1 else 2048
mp.mp.dps = 60
f = lambda x: mp.exp(-x * x / 2)
f_inverse = lambda y: mp.sqrt(-2 * mp.log(y))
tail_mass = lambda r: mp.sqrt(mp.pi / 2) * mp.erfc(r / mp.sqrt(2))


def top_excess(r):
    """f(x_{n-1}) + v/x_{n-1} - 1: positive when r is too small (the layers reach 0 too soon)."""
    v = r * f(r) + tail_mass(r)
    x = r
    for _ in range(1, LAYERS - 1):
        y = f(x) + v / x
        if y >= 1:
            return mp.mpf(1)
        x = f_inverse(y)
    return f(x) + v / x - 1


lo, hi = mp.mpf(2), mp.mpf(6)
for _ in range(200):
    mid = (lo + hi) / 2
    lo, hi = (mid, hi) if top_excess(mid) > 0 else (lo, mid)
r = (lo + hi) / 2
v = r * f(r) + tail_mass(r)
X = [v / f(r), r]
for _ in range(2, LAYERS):
    X.append(f_inverse(f(X[-1]) + v / X[-1]))
X.append(mp.mpf(0))
F = [f(x) for x in X]
rejected = sum(1 - X[i + 1] / X[i] for i in range(LAYERS)) / LAYERS


def table(name, values):
    rows = [", ".join(repr(float(x)) for x in values[k:k + 4]) for k in range(0, len(values), 4)]
    return f"#[rustfmt::skip]\npub static {name}: [f64; LAYERS + 1] = [\n    " + ",\n    ".join(rows) + ",\n];\n"


print(f"""//! The {LAYERS}-layer ziggurat of the standard normal (Marsaglia & Tsang 2000), written by
//! `python3 src/rng/ziggurat_tables.py {LAYERS} > src/rng/ziggurat_tables.rs` (60-digit mpmath, each
//! entry rounded once to the nearest f64). Literals, not computed at start-up, so that every machine
//! draws the same bits whatever its libm; `tests/all/rng_stream.rs` checks them against their definition.
//!
//! `X[i]` is the right edge of layer `i` (`X[0] = V / f(R)` for the base strip, `X[1] = R`,
//! `X[LAYERS] = 0`) and `F[i] = f(X[i])`, `f(x) = exp(-x^2 / 2)`: every layer, the base strip with
//! its tail included, has the area `V = R f(R) + integral_R^inf f`. A first try is rejected with
//! probability {float(rejected):.3e}.

#![allow(clippy::excessive_precision, clippy::unreadable_literal)]

/// Layers of the ziggurat (a power of two: the layer is the low bits of a draw's word).
pub const LAYERS: usize = {LAYERS};
/// Where the base strip's tail begins: `X[1]`.
pub const R: f64 = {float(r)!r};
/// The area of every layer.
pub const V: f64 = {float(v)!r};
""")
print(table("X", X))
print(table("F", F), end="")
