import pytest
import spacy
from spacy.tokens import Doc, DocBin

from spacy_xlmr_ner.io.readers import corpus_layout, create_multilingual_corpus


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
    assert first_words(create_multilingual_corpus(corpus_dir, "dev", langs=["en"])) == ["endev0", "endev1"]


def test_all_languages_and_limit_per_language(corpus_dir):
    corpus = create_multilingual_corpus(corpus_dir, "train", langs="all", limit=2)
    assert first_words(corpus) == ["detrain0", "detrain1", "entrain0", "entrain1", "rutrain0", "rutrain1"]
    examples = list(corpus(spacy.blank("xx")))
    assert [e.label_ for e in examples[0].reference.ents] == ["LOC"]


def test_missing_language_is_a_clear_error(corpus_dir):
    with pytest.raises(ValueError, match=r"language\(s\) \['pl', 'fr'\].*\['de', 'en', 'ru'\]"):
        create_multilingual_corpus(corpus_dir, "train", langs="de,pl,fr")
    with pytest.raises(ValueError, match=r"No test.spacy file under .*/<lang>/ \(it has dev.spacy, train.spacy\)"):
        create_multilingual_corpus(corpus_dir, "test")


def write_docbin(path, words):
    path.parent.mkdir(parents=True, exist_ok=True)
    vocab = spacy.blank("xx").vocab
    DocBin(docs=[Doc(vocab, words=[w, "Berlin"], ents=["O", "B-LOC"]) for w in words]).to_disk(path)
    return path


def test_a_spacy_file_is_the_corpus_whatever_the_split_and_langs(tmp_path):
    path = write_docbin(tmp_path / "train.spacy", ["a", "b", "c"])
    assert corpus_layout(path, "dev") == "file"
    # split and langs (the configs' default "de") select from a {lang}/{split}
    # directory only; a file is read whole.
    corpus = create_multilingual_corpus(path, "dev", langs="de")
    assert first_words(corpus) == ["a", "b", "c"]
    assert corpus.files == [path]
    assert first_words(create_multilingual_corpus(path, "train", limit=2)) == ["a", "b"]


def test_a_directory_of_spacy_files_is_read_recursively_in_sorted_order(tmp_path):
    write_docbin(tmp_path / "b.spacy", ["b0", "b1"])
    write_docbin(tmp_path / "a.spacy", ["a0"])
    write_docbin(tmp_path / "more" / "c.spacy", ["c0", "c1"])
    (tmp_path / "notes.txt").write_text("not a corpus")
    assert corpus_layout(tmp_path, "train") == "directory"
    corpus = create_multilingual_corpus(tmp_path, "train", langs="de")
    assert first_words(corpus) == ["a0", "b0", "b1", "c0", "c1"]
    assert [p.name for p in corpus.files] == ["a.spacy", "b.spacy", "c.spacy"]
    # limit counts the documents of each file, as it does each language's
    assert first_words(create_multilingual_corpus(tmp_path, "train", limit=1)) == ["a0", "b0", "c0"]


def test_the_language_layout_comes_first(corpus_dir):
    write_docbin(corpus_dir / "extra.spacy", ["extra"])
    assert corpus_layout(corpus_dir, "train") == "languages"
    assert first_words(create_multilingual_corpus(corpus_dir, "train", langs="en")) == ["entrain0", "entrain1"]


def test_what_was_expected_when_no_layout_fits(tmp_path):
    expected = r"expected a \.spacy file, a directory of \.spacy files, or a directory of \{lang\}/\{split\}\.spacy"
    with pytest.raises(ValueError, match=f"Corpus not found: .*nope \\({expected}"):
        create_multilingual_corpus(tmp_path / "nope", "train")
    (tmp_path / "empty" / "de").mkdir(parents=True)
    with pytest.raises(ValueError, match=f"No \\.spacy file in .*empty \\({expected}"):
        create_multilingual_corpus(tmp_path / "empty", "train")
    (tmp_path / "train.iob").write_text("Berlin\tB-LOC\n")
    with pytest.raises(ValueError, match=r"Expected a \.spacy file.*train\.iob is not a \.spacy file"):
        create_multilingual_corpus(tmp_path / "train.iob", "train")
