import numpy as np
import pytest

from qgac_cli.codec.quality import CHROMA_TABLE, LUMA_TABLE, estimate_quality, scaled_table, standard_tables


def test_quality_50_is_the_annex_k_table_and_100_is_ones():
    luma, chroma = standard_tables(50)
    assert np.array_equal(luma, LUMA_TABLE) and np.array_equal(chroma, CHROMA_TABLE)
    assert np.all(standard_tables(100)[0] == 1)


def test_known_scaled_entries():
    assert scaled_table(LUMA_TABLE, 10)[0, 0] == 80  # 16 * 500 / 100
    assert scaled_table(LUMA_TABLE, 30)[0, :4].tolist() == [27, 18, 17, 27]
    assert scaled_table(LUMA_TABLE, 1).max() == 255  # baseline clamp


@pytest.mark.parametrize("quality", [1, 5, 10, 23, 50, 75, 90, 95, 99, 100])
def test_estimate_recovers_standard_qualities(quality):
    est = estimate_quality(list(standard_tables(quality)))
    assert est.exact
    assert np.array_equal(standard_tables(est.quality)[0], standard_tables(quality)[0])


def test_non_standard_tables_are_flagged_with_the_closest_quality():
    luma = standard_tables(80)[0].copy()
    luma[0, 0] += 3
    est = estimate_quality([luma])
    assert not est.exact and est.quality == 80
