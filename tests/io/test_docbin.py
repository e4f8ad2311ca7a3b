from collections import Counter

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training.iob_utils import biluo_to_iob, doc_to_biluo_tags

from spacy_xlmr_ner.io.docbin import SplitStats, convert_iob_dir, convert_iob_file, format_stats, sentences_to_docs
from spacy_xlmr_ner.io.iob import Sentence, read_iob

TRAIN_DE = (
    "-DOCSTART-\tO\n\n"
    "Angela\tI-PER\nMerkel\tI-PER\nbesucht\tO\nNew York\tS-LOC\n\n"  # IOB1 start, BIOES tag, space in token
    "Die\tO\nDeutsche\tB-ORG\nBank\tE-ORG\nin\tO\nFrankfurt\tI-LOC\n"  # BIOES end, IOB1 start
)
DEV_DE = "Bonn\tB-LOC\n"
TRAIN_ZH = "北\tB-LOC\n京\tI-LOC\n是\tO\n中\tB-LOC\n国\tI-LOC\n的\tO\n首\tO\n都\tO\n"


@pytest.fixture
def vocab():
    return spacy.blank("xx").vocab


def load(path, vocab):
    return list(DocBin().from_disk(path).get_docs(vocab))


def iob_tags(doc):
    return biluo_to_iob(doc_to_biluo_tags(doc))


def write_corpus(root, files):
    for rel_path, text in files.items():
        (root / rel_path).parent.mkdir(parents=True, exist_ok=True)
        (root / rel_path).write_text(text, encoding="utf-8")
    return root


def test_sentences_to_docs_latin(vocab):
    words = ["Angela", "Merkel", "besucht", "Paris", "."]
    (doc,) = sentences_to_docs([Sentence(words, ["B-PER", "I-PER", "O", "B-LOC", "O"], 1)], vocab)
    assert doc.text == "Angela Merkel besucht Paris ."
    assert [(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents] == [
        ("Angela Merkel", "PER", 0, 13),
        ("Paris", "LOC", 22, 27),
    ]


@pytest.mark.parametrize(
    "words,tags,text,ents",
    [
        (list("北京是中国的首都"), ["B-LOC", "I-LOC", "O", "B-LOC", "I-LOC", "O", "O", "O"], "北京是中国的首都", ["北京", "中国"]),
        (["我", "在", "Google", "工作"], ["O", "O", "B-ORG", "O"], "我在Google工作", ["Google"]),
        (
            ["กรุงเทพ", "มหานคร", "เป็น", "เมืองหลวง"],
            ["B-LOC", "I-LOC", "O", "O"],
            "กรุงเทพมหานครเป็นเมืองหลวง",
            ["กรุงเทพมหานคร"],
        ),
        (["القاهرة", "عاصمة", "مصر"], ["B-LOC", "O", "B-LOC"], "القاهرة عاصمة مصر", ["القاهرة", "مصر"]),
        (
            ["नई", "दिल्ली", "भारत", "में"],
            ["B-LOC", "I-LOC", "B-LOC", "O"],
            "नई दिल्ली भारत में",
            ["नई दिल्ली", "भारत"],
        ),
    ],
)
def test_sentences_to_docs_spacing(vocab, words, tags, text, ents):
    (doc,) = sentences_to_docs([Sentence(words, tags, 1)], vocab)
    assert doc.text == text
    assert [e.text for e in doc.ents] == ents
    for ent in doc.ents:
        assert doc.text[ent.start_char : ent.end_char] == ent.text
    assert [t.text for t in doc] == words


def test_convert_iob_file_round_trip(tmp_path, vocab):
    path = write_corpus(tmp_path, {"de/train.iob": TRAIN_DE}) / "de" / "train.iob"
    stats = convert_iob_file(path, tmp_path / "out" / "nested" / "train.spacy")
    docs = load(tmp_path / "out" / "nested" / "train.spacy", vocab)
    sentences = read_iob(path).sentences
    assert [[t.text for t in doc] for doc in docs] == [s.words for s in sentences]
    assert [iob_tags(doc) for doc in docs] == [s.tags for s in sentences]
    assert [iob_tags(doc) for doc in docs] == [
        ["B-PER", "I-PER", "O", "B-LOC"],
        ["O", "B-ORG", "I-ORG", "O", "B-LOC"],
    ]
    assert [doc.text for doc in docs] == ["Angela Merkel besucht New York", "Die Deutsche Bank in Frankfurt"]
    n_starts = sum(tag.startswith("B-") for s in sentences for tag in s.tags)
    assert sum(len(doc.ents) for doc in docs) == n_starts == 4
    assert stats == SplitStats(
        sentences=2, tokens=9, entities=Counter(PER=1, LOC=2, ORG=1), n_repaired=2, n_docstart=1, lang_prefix=None
    )


def test_convert_iob_file_limit_and_prefix(tmp_path, vocab):
    path = write_corpus(tmp_path, {"x.iob": "en:a\tB-PER\n\nen:b\tO\n\nen:c\tO\n"}) / "x.iob"
    stats = convert_iob_file(path, tmp_path / "x.spacy", limit=2)
    assert [doc.text for doc in load(tmp_path / "x.spacy", vocab)] == ["a", "b"]
    assert (stats.sentences, stats.tokens, stats.entities, stats.lang_prefix) == (2, 2, Counter(PER=1), "en:")


def test_convert_iob_dir(tmp_path, vocab):
    corpus = write_corpus(
        tmp_path / "in",
        {"de/train.iob": TRAIN_DE, "de/dev.iob": DEV_DE, "zh/train.iob": TRAIN_ZH, "zh/dev.iob": DEV_DE},
    )
    (corpus / "notes").mkdir()  # no IOB files: not a language
    stats = convert_iob_dir(corpus, tmp_path / "out")
    assert list(stats) == [("de", "train"), ("de", "dev"), ("zh", "train"), ("zh", "dev")]
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")) == [
        "de", "de/dev.spacy", "de/train.spacy", "zh", "zh/dev.spacy", "zh/train.spacy",
    ]  # fmt: skip
    (zh_doc,) = load(tmp_path / "out" / "zh" / "train.spacy", vocab)
    assert zh_doc.text == "北京是中国的首都"
    assert [(e.text, e.start_char, e.end_char) for e in zh_doc.ents] == [("北京", 0, 2), ("中国", 3, 5)]
    assert stats["zh", "train"] == SplitStats(sentences=1, tokens=8, entities=Counter(LOC=2))
    assert stats["de", "dev"] == SplitStats(sentences=1, tokens=1, entities=Counter(LOC=1))
    assert stats["de", "train"].n_repaired == 2


def test_convert_iob_dir_langs_splits_limit(tmp_path):
    corpus = write_corpus(tmp_path / "in", {"de/train.iob": TRAIN_DE, "de/dev.iob": DEV_DE, "zh/train.iob": TRAIN_ZH})
    stats = convert_iob_dir(corpus, tmp_path / "out", langs=["de"], splits=["train"], limit=1)
    assert list(stats) == [("de", "train")]
    assert stats["de", "train"].sentences == 1
    assert not (tmp_path / "out" / "zh").exists()


def test_convert_iob_dir_progress_bar_of_files(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "in", {"de/train.iob": TRAIN_DE, "de/dev.iob": DEV_DE, "zh/train.iob": TRAIN_ZH})
    convert_iob_dir(corpus, tmp_path / "out", splits=["train"], progress=False)
    assert capsys.readouterr().err == ""
    convert_iob_dir(corpus, tmp_path / "out", splits=["train"], progress=True)
    assert "0/2 [" in capsys.readouterr().err


def test_convert_iob_dir_missing_split_for_one_language(tmp_path):
    corpus = write_corpus(tmp_path / "in", {"de/train.iob": TRAIN_DE, "de/dev.iob": DEV_DE, "zh/train.iob": TRAIN_ZH})
    with pytest.raises(FileNotFoundError, match=r"Missing IOB files: .*zh/dev\.iob \(splits found: dev, train\)$"):
        convert_iob_dir(corpus, tmp_path / "out")
    with pytest.raises(FileNotFoundError, match=r"Missing IOB files: .*xx/train\.iob, .*xx/dev\.iob \(splits found: dev, train\)$"):
        convert_iob_dir(corpus, tmp_path / "out", langs=["de", "xx"], splits=["train", "dev"])
    assert not (tmp_path / "out").exists()


def test_convert_iob_dir_nothing_found(tmp_path):
    corpus = write_corpus(tmp_path / "in", {"de/train.iob": TRAIN_DE})
    with pytest.raises(FileNotFoundError, match="No {dev,test}.iob files"):
        convert_iob_dir(corpus, tmp_path / "out", splits=["dev", "test"])


def test_format_stats():
    stats = {
        ("de", "train"): SplitStats(20, 195, Counter(PER=9, LOC=7), n_repaired=3, n_docstart=2),
        ("en", "dev"): SplitStats(10, 80, Counter(ORG=4), lang_prefix="en:"),
    }
    lines = format_stats(stats).strip().splitlines()
    assert lines[0].split() == ["lang", "split", "sentences", "tokens", "LOC", "ORG", "PER", "repaired"]
    assert lines[2].split() == ["de", "train", "20", "195", "7", "0", "9", "3"]
    assert lines[3].split() == ["en", "dev", "10", "80", "0", "4", "0", "0"]
    assert lines[-2:] == [
        "de/train: skipped 2 -DOCSTART- lines",
        "en/dev: stripped language prefix 'en:' from every token",
    ]


# Output paths, atomic writes and all-or-nothing directory runs.
import errno  # noqa: E402

from spacy_xlmr_ner.io import docbin as docbin_module  # noqa: E402
from spacy_xlmr_ner.io.docbin import OutputError  # noqa: E402
from spacy_xlmr_ner.io.iob import IOBFormatError  # noqa: E402


def snapshot(root):
    """Every file under root (temporary files included) and its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def fail_writes(monkeypatch, code, after=0):
    """Make the `after`-th write onward write half its data, then fail with `code`."""
    calls = []
    real = docbin_module._write_all

    def write_all(f, data):
        calls.append(f)
        if len(calls) > after:
            f.write(data[: len(data) // 2])
            raise OSError(code, __import__("os").strerror(code))
        real(f, data)

    monkeypatch.setattr(docbin_module, "_write_all", write_all)


@pytest.mark.parametrize(
    "code,reason",
    [(errno.ENOSPC, "no space left on the device"), (errno.EROFS, "the file system is read-only"),
     (errno.EACCES, "permission denied")],
)  # fmt: skip
def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch, code, reason):
    source = write_corpus(tmp_path / "in", {"train.iob": TRAIN_DE})
    out = tmp_path / "out" / "train.spacy"
    convert_iob_file(source / "train.iob", out, limit=1)
    before = snapshot(tmp_path / "out")
    fail_writes(monkeypatch, code)
    with pytest.raises(OutputError) as err:
        convert_iob_file(source / "train.iob", out)
    assert str(err.value) == f"Cannot write {out}: {reason}"
    assert snapshot(tmp_path / "out") == before  # unchanged, and no temporary file left


def test_failed_rename_keeps_the_old_file(tmp_path, monkeypatch):
    source = write_corpus(tmp_path / "in", {"train.iob": TRAIN_DE})
    out = tmp_path / "out" / "train.spacy"
    convert_iob_file(source / "train.iob", out, limit=1)
    before = snapshot(tmp_path / "out")

    def replace(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(docbin_module.os, "replace", replace)
    with pytest.raises(OutputError, match="Cannot write .*train.spacy: permission denied"):
        convert_iob_file(source / "train.iob", out)
    assert snapshot(tmp_path / "out") == before


def test_output_is_a_directory_or_under_a_file(tmp_path):
    source = write_corpus(tmp_path / "in", {"train.iob": TRAIN_DE, "de/train.iob": TRAIN_DE})
    (tmp_path / "dir.spacy").mkdir()
    with pytest.raises(OutputError, match=r"Cannot write .*dir.spacy: it is a directory \(give the path of a .spacy file\)"):
        convert_iob_file(source / "train.iob", tmp_path / "dir.spacy")
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match=r"Cannot write .*file/sub/train.spacy: .*file is a file, not a directory"):
        convert_iob_file(source / "train.iob", tmp_path / "file" / "sub" / "train.spacy")
    with pytest.raises(OutputError, match=r"Cannot write to .*file: it is a file, not a directory"):
        convert_iob_dir(source, tmp_path / "file")
    # A directory where one of the directory run's files goes.
    (tmp_path / "out" / "de" / "train.spacy").mkdir(parents=True)
    with pytest.raises(OutputError, match=r"Cannot write .*out/de/train.spacy: it is a directory"):
        convert_iob_dir(source, tmp_path / "out")
    assert (tmp_path / "file").read_text() == "x"


def dir_corpus(tmp_path):
    return write_corpus(tmp_path / "in", {
        "de/train.iob": TRAIN_DE, "de/dev.iob": DEV_DE, "zh/train.iob": TRAIN_ZH, "zh/dev.iob": TRAIN_ZH,
    })  # fmt: skip


def test_dir_run_checks_every_input_before_writing(tmp_path):
    corpus = dir_corpus(tmp_path)
    convert_iob_dir(corpus, tmp_path / "out", limit=1)
    before = snapshot(tmp_path / "out")
    (corpus / "zh" / "dev.iob").write_text("北\tB-LOC\n京\tB-O\n", encoding="utf-8")  # the last file read
    with pytest.raises(IOBFormatError, match=r"zh/dev.iob:2: entity labelled as outside \(B-O\)"):
        convert_iob_dir(corpus, tmp_path / "out")
    assert snapshot(tmp_path / "out") == before
    # Nothing at all is written when there was no output before.
    with pytest.raises(IOBFormatError):
        convert_iob_dir(corpus, tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()


@pytest.mark.parametrize("after", [0, 1, 3])
def test_dir_run_write_failure_leaves_all_old(tmp_path, monkeypatch, after):
    corpus = dir_corpus(tmp_path)
    convert_iob_dir(corpus, tmp_path / "out", limit=1)
    before = snapshot(tmp_path / "out")
    fail_writes(monkeypatch, errno.ENOSPC, after=after)
    with pytest.raises(OutputError, match="no space left on the device"):
        convert_iob_dir(corpus, tmp_path / "out")
    assert snapshot(tmp_path / "out") == before
    monkeypatch.undo()
    stats = convert_iob_dir(corpus, tmp_path / "out")  # then a good run replaces them all
    assert all(snapshot(tmp_path / "out")[f"{lang}/{split}.spacy"] != before[f"{lang}/{split}.spacy"]
               for lang, split in stats if stats[lang, split].sentences > 1)  # fmt: skip


def test_requested_split_must_exist(tmp_path):
    corpus = dir_corpus(tmp_path)
    with pytest.raises(FileNotFoundError) as err:
        convert_iob_dir(corpus, tmp_path / "out", splits=["train", "validation"])
    assert str(err.value) == (
        f"Missing IOB files: {corpus / 'de' / 'validation.iob'}, {corpus / 'zh' / 'validation.iob'}"
        " (splits found: dev, train)"
    )
    assert not (tmp_path / "out").exists()
    # The default splits skip one that no language has (here test).
    assert sorted(convert_iob_dir(corpus, tmp_path / "out")) == [("de", "dev"), ("de", "train"), ("zh", "dev"), ("zh", "train")]
