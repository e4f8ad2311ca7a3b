import pytest

from spacy_xlmr_ner.io.langs import parse_langs, split_list


@pytest.mark.parametrize(
    "spec,expected",
    [("de,es", ["de", "es"]), (" de , ,es,de ", ["de", "es"]), (["es", " de"], ["es", "de"]), ("", []), (None, [])],
)
def test_split_list(spec, expected):
    assert split_list(spec) == expected


def test_all_stands_for_the_available_languages_sorted():
    assert parse_langs("all", ["ru", "de"]) == ["de", "ru"]
    assert parse_langs(" all ", ["ru"]) == ["ru"]
    assert parse_langs("all") == ["all"]
    assert parse_langs("de,all", ["ru"]) == ["de", "all"]
