"""evaluate_per_language over IOB and DocBin test sets, scored as seqeval
scores the same predictions."""
import pytest
import spacy
from seqeval.metrics import f1_score
from spacy.tokens import DocBin
from spacy.training.iob_utils import biluo_to_iob, doc_to_biluo_tags

from spacy_xlmr_ner.evaluation import evaluate_per_language, markdown_results
from spacy_xlmr_ner.io.docbin import convert_iob_dir

DE = "Angela\tB-PER\nMerkel\tI-PER\nbesuchte\tO\nParis\tB-LOC\n\nSiemens\tB-ORG\nbaut\tO\nin\tO\nBerlin\tB-LOC\n\n"
EN = "Obama\tB-PER\nvisited\tO\nParis\tB-LOC\n\nApple\tB-ORG\nhired\tO\nMerkel\tB-PER\n\nhello\tO\n\n"


@pytest.fixture
def nlp():
    # Predictions fixed by rules, so that the expected scores are known.
    nlp = spacy.blank("xx")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([
        {"label": "PER", "pattern": "Merkel"},  # misses "Angela": wrong boundaries in de
        {"label": "LOC", "pattern": "Paris"},
        {"label": "LOC", "pattern": "Siemens"},  # right boundaries, wrong type
        {"label": "ORG", "pattern": "Apple"},
    ])
    return nlp


@pytest.fixture
def iob_dir(tmp_path):
    for lang, text in (("de", DE), ("en", EN)):
        (tmp_path / "iob" / lang).mkdir(parents=True)
        (tmp_path / "iob" / lang / "test.iob").write_text(text, encoding="utf-8")
    return tmp_path / "iob"


def test_scores_per_language_and_all_match_seqeval(nlp, iob_dir):
    results = evaluate_per_language(nlp, iob_dir)
    assert list(results) == ["de", "en", "all"]
    de, en = results["de"], results["en"]
    # de: gold Angela Merkel/PER, Paris/LOC, Siemens/ORG, Berlin/LOC; predicted Merkel/PER, Paris/LOC, Siemens/LOC.
    assert (de["ents_p"], de["ents_r"]) == (pytest.approx(1 / 3), pytest.approx(1 / 4))
    assert de["untyped_p"] == pytest.approx(2 / 3)
    assert de["confusion"]["ORG"] == {"LOC": 1}
    assert de["confusion"]["PER"] == {"O": 1} and de["confusion"]["O"] == {"PER": 1}
    assert (en["ents_p"], en["ents_r"]) == (1.0, pytest.approx(3 / 4))  # misses Obama
    assert en["n_docs"] == 3 and results["all"]["n_docs"] == 5
    gold = [line.split("\t")[1] for line in (DE + EN).splitlines() if line]
    docs = [nlp(t) for t in ["Angela Merkel besuchte Paris", "Siemens baut in Berlin",
                             "Obama visited Paris", "Apple hired Merkel", "hello"]]
    pred = [tag for doc in docs for tag in biluo_to_iob(doc_to_biluo_tags(doc))]
    assert results["all"]["ents_f"] == pytest.approx(f1_score([gold], [pred]))
    text = markdown_results(results)
    assert "| de | 2 | 33.3 | 25.0 |" in text and "| **ORG** | 1 | 1 | 0 | 0 |" in text


def test_docbin_directory_gives_the_same_scores_as_iob(nlp, iob_dir, tmp_path):
    convert_iob_dir(iob_dir, tmp_path / "spacy", splits=["test"])
    from_iob = evaluate_per_language(nlp, iob_dir, "de,en")
    from_docbin = evaluate_per_language(nlp, tmp_path / "spacy", "de,en")
    for lang in ("de", "en", "all"):
        for key in ("ents_f", "untyped_f", "token_acc", "confusion", "ents_per_type"):
            assert from_iob[lang][key] == from_docbin[lang][key]


def test_single_files_limit_and_label_map(nlp, iob_dir, tmp_path):
    single = evaluate_per_language(nlp, iob_dir / "de" / "test.iob", limit=1)
    assert list(single) == ["de"] and single["de"]["n_docs"] == 1
    other = tmp_path / "news.iob"
    other.write_text("Merkel\tB-PERSON\nin\tO\nParis\tB-GPE\n\n", encoding="utf-8")
    raw = evaluate_per_language(nlp, other)
    assert list(raw) == ["news"] and raw["news"]["ents_f"] == 0.0
    mapped = evaluate_per_language(nlp, other, label_map={"PERSON": "PER", "GPE": "LOC"})
    assert mapped["news"]["ents_f"] == 1.0
    convert_iob_dir(iob_dir, tmp_path / "spacy", splits=["test"])
    dropped = evaluate_per_language(nlp, tmp_path / "spacy" / "en" / "test.spacy", label_map={"ORG": "O"})
    assert "ORG" not in dropped["en"]["confusion"] and dropped["en"]["confusion"]["O"] == {"ORG": 1}


def test_missing_language_is_a_clear_error(nlp, iob_dir):
    with pytest.raises(ValueError, match="fr"):
        evaluate_per_language(nlp, iob_dir, "de,fr")


def test_progress_bar_per_language(nlp, iob_dir, capsys):
    quiet = evaluate_per_language(nlp, iob_dir, progress=False)
    assert capsys.readouterr().err == ""
    shown = evaluate_per_language(nlp, iob_dir, progress=True)
    err = capsys.readouterr().err
    assert "de:   0%" in err and "0/2 [" in err and "en:   0%" in err and "0/3 [" in err
    assert shown["all"]["ents_f"] == quiet["all"]["ents_f"]
