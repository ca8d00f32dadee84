"""dae_course.stats: the bounds the book's random claims are checked against.

Expected values: the Kolmogorov–Smirnov statistic by hand for tiny samples, its critical
values from Smirnov's table, and the standard error of a sample variance from its Gaussian
special case, 2 sigma^4 / (n - 1), and from simulation.
"""

from __future__ import annotations

import math

import pytest
import torch

from dae_course import stats

# --------------------------------------------------------------------------------------
# Kolmogorov–Smirnov
# --------------------------------------------------------------------------------------


def test_ks_statistic_hand_values():
    def uniform(y):
        return y.clamp(0, 1)

    assert stats.ks_statistic(torch.tensor([0.5]), uniform) == pytest.approx(0.5)
    assert stats.ks_statistic(torch.tensor([0.75, 0.25]), uniform) == pytest.approx(0.25)
    assert stats.ks_statistic(torch.tensor([0.1, 0.2, 0.3]), uniform) == pytest.approx(0.7)


def test_ks_statistic_rejects_an_empty_sample():
    with pytest.raises(ValueError, match="empty"):
        stats.ks_statistic(torch.tensor([]), lambda y: y)


def test_ks_critical_values_match_the_tables():
    assert stats.ks_critical_value(100, 0.05) == pytest.approx(0.1358, abs=2e-4)
    assert stats.ks_critical_value(10_000, 0.001) == pytest.approx(0.01949, abs=1e-4)
    with pytest.raises(ValueError):
        stats.ks_critical_value(10, 0.0)


def test_ks_detects_a_wrong_distribution():
    g = torch.Generator().manual_seed(0)
    u = torch.rand(20_000, generator=g, dtype=torch.float64)
    y = -torch.log1p(-u) / 2.5  # Exp(2.5)
    n = y.numel()
    assert stats.ks_statistic(y, lambda v: 1 - torch.exp(-2.5 * v)) < stats.ks_critical_value(n)
    assert stats.ks_statistic(y, lambda v: 1 - torch.exp(-2.0 * v)) > stats.ks_critical_value(n)


# --------------------------------------------------------------------------------------
# Standard error of a sample variance
# --------------------------------------------------------------------------------------


def test_sample_variance_standard_error_gaussian_case():
    # for Gaussian draws mu4 = 3 sigma^4, and Var(s^2) = 2 sigma^4 / (n - 1)
    for n in (2, 10, 1000):
        se = stats.sample_variance_standard_error(9.0, 3 * 81.0, n)
        assert se == pytest.approx(9.0 * math.sqrt(2 / (n - 1)))


@pytest.mark.parametrize("n", [1, 0, 2.0, 100.5, True, "10"])
def test_sample_variance_standard_error_validates_n(n):
    with pytest.raises(ValueError, match="n must be an int >= 2"):
        stats.sample_variance_standard_error(1.0, 3.0, n)


def test_sample_variance_standard_error_by_simulation():
    # z^3 has variance 15 and fourth central moment E[z^12] = 10395: 2000 batches of 200
    # draws scatter their sample variances as the formula says, to within 15 %.
    z = torch.randn(2000, 200, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    measured = float((z**3).var(dim=1).std())
    assert measured == pytest.approx(
        stats.sample_variance_standard_error(15.0, 10395.0, 200), rel=0.15
    )


# --------------------------------------------------------------------------------------
# Chi-square (moved here from chapter 7's tests)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "df, alpha, table",
    # NIST/SEMATECH e-Handbook of Statistical Methods, table 1.3.6.7.4
    [(1, 0.05, 3.841), (3, 0.05, 7.815), (3, 0.001, 16.266), (10, 0.01, 23.209), (4, 0.1, 7.779)],
)
def test_chi2_critical_against_tables(df, alpha, table):
    assert stats.chi2_critical(df, alpha) == pytest.approx(table, abs=1e-3)


def test_chi2_critical_df2_closed_form_and_validation():
    assert stats.chi2_critical(2, 1e-6) == pytest.approx(-2 * math.log(1e-6), rel=1e-9)
    for bad in [(0, 0.05), (2, 0.0), (2, 1.0), (True, 0.05), (2.5, 0.05)]:
        with pytest.raises(ValueError):
            stats.chi2_critical(*bad)


def test_chi2_statistic_by_hand():
    counts = torch.tensor([30, 50, 20])
    probs = torch.tensor([0.25, 0.5, 0.25], dtype=torch.float64)
    # E = (25, 50, 25): (25 + 0 + 25) / 25 = 2
    assert stats.chi2_statistic(counts, probs) == pytest.approx(2.0)


# --------------------------------------------------------------------------------------
# Standard error of a sample variance (moved here from chapter 6's tests)
# --------------------------------------------------------------------------------------


def test_sample_variance_standard_error_normal_case():
    # for normal draws mu4 = 3 sigma^4 and the standard error is sigma^2 sqrt(2/(n-1))
    assert stats.sample_variance_standard_error(2.0, 12.0, 101) == pytest.approx(
        2.0 * math.sqrt(2 / 100)
    )


@pytest.mark.parametrize("n", [2, 3, 4])
def test_sample_variance_standard_error_two_point_by_enumeration(n):
    # a two-point draw (0 w.p. 0.7, 1 w.p. 0.3), every sample of size n enumerated: the
    # standard deviation of the unbiased sample variance is what the formula says, exactly
    import itertools

    p = 0.3
    var, mu4 = p * (1 - p), p * (1 - p) * (1 - 3 * p * (1 - p))
    s2, weights = [], []
    for xs in itertools.product([0.0, 1.0], repeat=n):
        mean = sum(xs) / n
        s2.append(sum((x - mean) ** 2 for x in xs) / (n - 1))
        weights.append(math.prod(p if x else 1 - p for x in xs))
    mean_s2 = sum(w * v for w, v in zip(weights, s2))
    sd_s2 = math.sqrt(sum(w * (v - mean_s2) ** 2 for w, v in zip(weights, s2)))
    assert mean_s2 == pytest.approx(var)
    assert stats.sample_variance_standard_error(var, mu4, n) == pytest.approx(sd_s2)
