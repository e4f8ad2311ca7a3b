import pytest
import spacy
from spacy.tokens import Doc, DocBin

from spacy_xlmr_ner.io.readers import MultilingualCorpus, create_multilingual_corpus


@pytest.fixture
def corpus_dir(tmp_path):
    nlp = spacy.blank("xx")
    for lang, n in (("de", 3), ("en", 2), ("ru", 4)):
        for split in ("train", "dev"):
            docs = [
                Doc(nlp.vocab, words=[f"{lang}{split}{i}", "Berlin"], ents=["O", "B-LOC"])
                for i in range(n)
            ]
            (tmp_path / lang).mkdir(exist_ok=True)
            DocBin(docs=docs).to_disk(tmp_path / lang / f"{split}.spacy")
    (tmp_path / "pl").mkdir()  # no files: not a language of the corpus
    return tmp_path


def first_words(corpus):
    return [eg.reference[0].text for eg in corpus(spacy.blank("xx"))]


def test_one_language(corpus_dir):
    corpus = create_multilingual_corpus(corpus_dir, "train", langs="en")
    assert first_words(corpus) == ["entrain0", "entrain1"]


def test_several_languages_in_the_given_order(corpus_dir):
    corpus = create_multilingual_corpus(corpus_dir, "dev", langs="ru, de")
    assert first_words(corpus) == [f"rudev{i}" for i in range(4)] + [f"dedev{i}" for i in range(3)]
    assert first_words(MultilingualCorpus(corpus_dir, "dev", langs=["en"])) == ["endev0", "endev1"]


def test_all_languages_and_limit_per_language(corpus_dir):
    corpus = create_multilingual_corpus(corpus_dir, "train", langs="all", limit=2)
    assert first_words(corpus) == ["detrain0", "detrain1", "entrain0", "entrain1", "rutrain0", "rutrain1"]
    examples = list(corpus(spacy.blank("xx")))
    assert [e.label_ for e in examples[0].reference.ents] == ["LOC"]


def test_missing_language_is_a_clear_error(corpus_dir):
    with pytest.raises(ValueError, match=r"language\(s\) \['pl', 'fr'\].*\['de', 'en', 'ru'\]"):
        create_multilingual_corpus(corpus_dir, "train", langs="de,pl,fr")
    with pytest.raises(ValueError, match="No test.spacy"):
        create_multilingual_corpus(corpus_dir, "test")
    with pytest.raises(ValueError, match="not found"):
        create_multilingual_corpus(corpus_dir / "nope", "train")
