"""The statistics every chapter reads its records with (lrlab.stats)."""
import math

import numpy as np
import pytest

from lrlab.stats import (counted, expected_range_in_sds, listed, mean_sd, number_word, plain_number, plus_minus,
                         power_of_two, refined_minimum, t_point, times_words, with_error)


def test_the_refined_minimum_finds_a_parabolas_vertex_between_grid_points():
    x = np.arange(-8, 0)
    best, on_edge = refined_minimum(x, (x + 4.3) ** 2)
    assert best == pytest.approx(-4.3) and not on_edge


def test_the_refined_minimum_reads_the_grid_in_any_order_and_skips_diverged_points():
    x = np.array([-2, -6, -4, -5, -3, -1])
    y = (x + 3.8) ** 2
    y[x == -1] = np.nan
    assert refined_minimum(x, y)[0] == pytest.approx(-3.8)


def test_a_minimum_on_the_grids_edge_is_flagged_and_not_refined():
    assert refined_minimum([1, 2, 3], [1.0, 2.0, 3.0]) == (1.0, True)
    assert refined_minimum([1, 2, 3], [3.0, 2.0, 1.0]) == (3.0, True)


def test_uneven_grids_are_refined_through_the_three_points_around_the_minimum():
    x = np.array([0.0, 1.0, 3.0, 4.0])
    best, _ = refined_minimum(x, (x - 1.4) ** 2)
    assert best == pytest.approx(1.4)


def test_no_finite_point_gives_no_optimum():
    best, on_edge = refined_minimum([1, 2], [np.nan, np.nan])
    assert math.isnan(best) and on_edge


def test_mean_and_spread_over_seeds_skip_diverged_runs_and_need_two_values():
    assert mean_sd([1.0, 3.0, np.nan]) == pytest.approx((2.0, math.sqrt(2)))
    mean, sd = mean_sd([4.0])
    assert mean == 4.0 and math.isnan(sd)
    assert all(math.isnan(v) for v in mean_sd([np.nan]))


def test_plus_minus_says_one_seed_when_there_is_no_spread():
    assert plus_minus(71.914, 0.4, "%") == "71.91% ± 0.40"
    assert plus_minus(71.914, float("nan"), "%") == "71.91% (one seed)"


def test_an_estimate_without_a_finite_error_says_so_instead_of_printing_nan():
    assert with_error(-0.512, 0.061) == "-0.51 ± 0.06"
    assert with_error(0.0, float("nan")) == "+0.00 (no error measured)"


def test_a_plain_number_writes_small_and_large_powers_of_ten_without_maths():
    assert plain_number(0.032) == "0.032" and plain_number(0) == "0"
    assert plain_number(3.2e-5) == "3.2 × 10⁻⁵" and plain_number(8e-5) == "8 × 10⁻⁵"
    assert plain_number(2.5e7) == "2.5 × 10⁷" and plain_number(1e-5) == "10⁻⁵"


def test_the_range_of_pure_noise_grows_with_the_number_of_settings():
    # tabulated mean range of n standard normals: 1.128 for 2, 2.704 for 7
    assert expected_range_in_sds(2) == pytest.approx(1.128, abs=0.02)
    assert expected_range_in_sds(7) == pytest.approx(2.704, abs=0.02)


def test_the_pooled_sd_weighs_each_group_by_its_degrees_of_freedom():
    from lrlab.stats import pooled_sd
    sd, dof = pooled_sd([[1.0, 3.0], [5.0, 5.0, 8.0], [7.0]])   # squares 2 and 6, 1 + 2 dof
    assert dof == 3 and sd == pytest.approx((8 / 3) ** 0.5)
    assert np.isnan(pooled_sd([[1.0], [2.0]])[0]) and pooled_sd([])[1] == 0


def test_two_means_differ_beyond_two_standard_errors_of_their_difference():
    from lrlab.stats import best_gap, mean_gap
    # one seed each: the single-run rule's 2 sqrt(2) SDs
    assert mean_gap([1.0], [0.0], 1.0)[1] == pytest.approx(best_gap(1.0, 1, 0.0, 1, 1.0)[1])
    gap, margin, sign = mean_gap([10.0, 11.0, 12.0], [9.0, 10.0, np.nan], 0.5)   # a diverged seed left out
    assert gap == pytest.approx(1.5) and margin == pytest.approx(2 * 0.5 * math.sqrt(1 / 3 + 1 / 2)) and sign == 1
    assert mean_gap([10.0, 10.2], [10.1, 10.3], 0.5)[2] == 0
    assert mean_gap([8.0, 8.2], [10.1, 10.3], 0.5)[2] == -1
    assert math.isnan(mean_gap([1.0], [np.nan], 0.5)[1]) and mean_gap([1.0], [2.0], np.nan)[2] == 0


def test_listed_joins_items_as_a_sentence_would():
    assert listed(["a"]) == "a" and listed(["a", "b"]) == "a and b" and listed(iter(["a", "b", "c"])) == "a, b and c"


def test_counts_are_words_up_to_nine_and_digits_beyond():
    assert [number_word(n) for n in (1, 9, 10)] == ["one", "nine", "10"]
    assert [power_of_two(x) for x in (2.0 ** -9, 0.25, 1.0, 8.0)] == ["2⁻⁹", "2⁻²", "2⁰", "2³"]
    assert [times_words(x) for x in (1, 2.0, 3.0, 2.5, 12)] == ["once", "twice", "three times", "2.5 times", "12 times"]
    assert counted(1, "seed") == "one seed" and counted(3, "rate") == "three rates" and counted(12, "width") == "12 widths"


def test_students_t_points_match_the_printed_table_and_approach_the_normal():
    # the 97.5% points of a t table: 12.706 (1), 4.303 (2), 2.776 (4), 2.447 (6), 2.228 (10)
    for dof, printed in [(1, 12.706), (2, 4.303), (4, 2.776), (6, 2.447), (10, 2.228)]:
        assert t_point(dof) == pytest.approx(printed, abs=1e-3)
    assert t_point(10_000) == pytest.approx(1.960, abs=1e-3)
    assert t_point(6, level=0.95) == pytest.approx(1.943, abs=1e-3)
