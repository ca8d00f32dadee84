"""The numbers stated on the appendix page (appendix_testing.md) are what the code gives."""

import math
from pathlib import Path

from dae_course import stats

PAGE = (Path(__file__).resolve().parents[1] / "appendix_testing.md").read_text(encoding="utf-8")


def test_five_standard_errors_false_alarm():
    assert f"{math.erfc(5 / math.sqrt(2)):.1e}" == "5.7e-07"
    assert "5.7 \\times 10^{-7}" in PAGE


def test_chi2_critical_value_on_the_page():
    assert f"{stats.chi2_critical(3, 0.001):.2f}" == "16.27"
    assert "$16.27$" in PAGE


def test_ks_critical_value_on_the_page():
    assert f"{stats.ks_critical_value(10_000, 0.001):.4f}" == "0.0195"
    assert "$0.0195$" in PAGE
