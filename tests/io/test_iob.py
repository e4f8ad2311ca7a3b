import pytest

from spacy_xlmr_ner.io.iob import IOBFormatError, read_iob


@pytest.fixture
def write(tmp_path):
    def write(text, name="train.iob", encoding="utf-8", newline="\n"):
        path = tmp_path / name
        path.write_bytes(text.replace("\n", newline).encode(encoding))
        return path

    return write


def words_and_tags(iob_file):
    return [(s.words, s.tags) for s in iob_file.sentences]


def test_read_basic(write):
    path = write("Angela\tB-PER\nMerkel\tI-PER\nspricht\tO\n\nin\tO\nBerlin\tB-LOC\n")
    result = read_iob(path)
    assert result.path == path
    assert words_and_tags(result) == [
        (["Angela", "Merkel", "spricht"], ["B-PER", "I-PER", "O"]),
        (["in", "Berlin"], ["O", "B-LOC"]),
    ]
    assert [s.line_no for s in result.sentences] == [1, 5]
    assert (result.n_repaired, result.n_docstart, result.lang_prefix) == (0, 0, None)


def test_blank_lines_and_no_final_newline(write):
    path = write("\n\na\tO\n \t \n\n\t\nb\tB-LOC\n   \nc\tO")
    result = read_iob(path)
    assert words_and_tags(result) == [(["a"], ["O"]), (["b"], ["B-LOC"]), (["c"], ["O"])]
    assert [s.line_no for s in result.sentences] == [3, 7, 9]


def test_bom_and_crlf(write):
    path = write("\ufeffAngela\tB-PER\nMerkel\tI-PER\n\nBerlin\tB-LOC\n", newline="\r\n")
    assert path.read_bytes().startswith(b"\xef\xbb\xbfAngela\tB-PER\r\n")
    result = read_iob(path)
    assert words_and_tags(result) == [(["Angela", "Merkel"], ["B-PER", "I-PER"]), (["Berlin"], ["B-LOC"])]
    assert [s.line_no for s in result.sentences] == [1, 4]


def test_conll2003_columns_docstart_and_iob1(write):
    # CoNLL-2003 style: space-separated, token POS chunk tag, IOB1 tags.
    path = write(
        "-DOCSTART- -X- -X- O\n\n"
        "EU NNP B-NP I-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP I-MISC\ncall NN I-NP O\n\n"
        "-DOCSTART- -X- -X- O\n\n"
        "Peter NNP B-NP I-PER\nBlackburn NNP I-NP I-PER\n"
    )
    result = read_iob(path)
    assert words_and_tags(result) == [
        (["EU", "rejects", "German", "call"], ["B-ORG", "O", "B-MISC", "O"]),
        (["Peter", "Blackburn"], ["B-PER", "I-PER"]),
    ]
    assert [s.line_no for s in result.sentences] == [3, 10]
    assert result.n_docstart == 2
    assert result.n_repaired == 3


def test_docstart_ends_sentence(write):
    result = read_iob(write("a\tO\n-DOCSTART-\nb\tO\n"))
    assert words_and_tags(result) == [(["a"], ["O"]), (["b"], ["O"])]
    assert result.n_docstart == 1


def test_tab_separated_token_with_space_and_extra_columns(write):
    path = write("New York\tB-LOC\nCity\tI-LOC\nEU\tNNP\tB-NP\tB-ORG\nx y z\tO\t\n")
    assert words_and_tags(read_iob(path)) == [
        (["New York", "City", "EU", "x y z"], ["B-LOC", "I-LOC", "B-ORG", "O"])
    ]


def test_space_separated(write):
    path = write("Angela  B-PER\nMerkel I-PER\n\nParis O B-LOC\n")
    assert words_and_tags(read_iob(path)) == [(["Angela", "Merkel"], ["B-PER", "I-PER"]), (["Paris"], ["B-LOC"])]


@pytest.mark.parametrize(
    "text,prefix,words",
    [
        ("en:Angela\tB-PER\nen:Merkel\tI-PER\nen::\tO\n\nen:de:\tO\n", "en:", ["Angela", "Merkel", ":", "de:"]),
        ("zh-yue:香港\tB-LOC\nzh-yue:x\tO\n", "zh-yue:", ["香港", "x"]),
        ("bar:Minga\tB-LOC\n", "bar:", ["Minga"]),
    ],
)
def test_lang_prefix_on_every_line_is_stripped(write, text, prefix, words):
    result = read_iob(write(text))
    assert result.lang_prefix == prefix
    assert [w for s in result.sentences for w in s.words] == words


@pytest.mark.parametrize(
    "text,words",
    [
        ("de:\tO\nBerlin\tB-LOC\n", ["de:", "Berlin"]),
        ("en:Angela\tB-PER\nMerkel\tI-PER\n", ["en:Angela", "Merkel"]),
        ("en:a\tO\n\nde:b\tO\n", ["en:a", "de:b"]),
        ("EN:a\tO\nEN:b\tO\n", ["EN:a", "EN:b"]),
        ("http://x\tO\nhttp://y\tO\n", ["http://x", "http://y"]),
    ],
)
def test_lang_prefix_not_on_every_line_is_kept(write, text, words):
    result = read_iob(write(text))
    assert result.lang_prefix is None
    assert [w for s in result.sentences for w in s.words] == words


def test_lang_prefix_leaving_empty_token_is_an_error(write):
    path = write("en:a\tO\n\nen:b\tO\nen:\tO\n")
    with pytest.raises(IOBFormatError) as err:
        read_iob(path)
    assert str(err.value) == f"{path}:4: empty token after stripping language prefix 'en:': 'en:\\tO'"


def test_iob1_repair_counts(write):
    path = write(
        "Angela\tI-PER\nMerkel\tI-PER\n\n"  # I- at sentence start
        "in\tO\nBerlin\tI-LOC\n\n"  # I- after O
        "Bank\tI-ORG\nof\tI-ORG\nParis\tI-LOC\n\n"  # I- after another type (and at start)
        "A\tB-PER\nB\tI-PER\nC\tB-PER\n"  # valid: nothing to repair
    )
    result = read_iob(path)
    assert [s.tags for s in result.sentences] == [
        ["B-PER", "I-PER"],
        ["O", "B-LOC"],
        ["B-ORG", "I-ORG", "B-LOC"],
        ["B-PER", "I-PER", "B-PER"],
    ]
    assert result.n_repaired == 4


def test_strict_fails_on_first_broken_start(write):
    path = write("Angela\tB-PER\nMerkel\tI-PER\n\nin\tO\nBerlin\tI-LOC\nBonn\tI-LOC\n\nx\tI-ORG\n")
    with pytest.raises(IOBFormatError) as err:
        read_iob(path, strict=True)
    assert err.value.line_no == 5
    assert str(err.value).startswith(f"{path}:5: broken entity start")
    assert str(err.value).endswith(": 'Berlin\\tI-LOC'")


def test_strict_accepts_valid_iob2(write):
    result = read_iob(write("Angela\tB-PER\nMerkel\tI-PER\nin\tO\nBerlin\tB-LOC\n"), strict=True)
    assert result.sentences[0].tags == ["B-PER", "I-PER", "O", "B-LOC"]


@pytest.mark.parametrize(
    "tags,expected,n_repaired",
    [
        (
            ["B-PER", "E-PER", "S-LOC", "O", "B-ORG", "I-ORG", "E-ORG"],
            ["B-PER", "I-PER", "B-LOC", "O", "B-ORG", "I-ORG", "I-ORG"],
            0,
        ),
        (["U-LOC", "B-PER", "L-PER", "U-PER", "O"], ["B-LOC", "B-PER", "I-PER", "B-PER", "O"], 0),
        (["S-LOC", "S-LOC", "B-ORG", "E-ORG"], ["B-LOC", "B-LOC", "B-ORG", "I-ORG"], 0),
        (["O", "E-PER", "O", "L-LOC"], ["O", "B-PER", "O", "B-LOC"], 2),
    ],
)
def test_bioes_and_biluo_to_iob2(write, tags, expected, n_repaired):
    result = read_iob(write("".join(f"w{i}\t{tag}\n" for i, tag in enumerate(tags))))
    assert result.sentences[0].tags == expected
    assert result.n_repaired == n_repaired


def test_limit(write):
    path = write("a\tO\n\n-DOCSTART-\n\nb\tB-LOC\n\nc\tI-PER\n\nd\tO\n")
    limited = read_iob(path, limit=2)
    assert words_and_tags(limited) == [(["a"], ["O"]), (["b"], ["B-LOC"])]
    assert limited.n_repaired == 0  # the broken tag is in sentence 3
    assert len(read_iob(path, limit=4).sentences) == 4
    assert len(read_iob(path, limit=10).sentences) == 4
    assert len(read_iob(path).sentences) == 4


@pytest.mark.parametrize("text", ["", "\n\n  \n", "-DOCSTART- -X- O\n\n", "\ufeff"])
def test_no_sentences(write, text):
    path = write(text)
    with pytest.raises(IOBFormatError) as err:
        read_iob(path)
    assert str(err.value) == f"{path}: no sentences"


@pytest.mark.parametrize(
    "bad_line,problem",
    [
        ("Angela", "missing tag"),
        ("Angela\t", "missing tag"),
        ("Angela \t ", "missing tag"),
        ("\tB-PER", "empty token"),
        (" \tB-PER", "empty token"),
        ("Angela\tPER", "unknown tag shape 'PER'"),
        ("Angela\tB_PER", "unknown tag shape 'B_PER'"),
        ("Angela\tb-per", "unknown tag shape 'b-per'"),
        ("Angela\tB-", "unknown tag shape 'B-'"),
        ("Angela\to", "unknown tag shape 'o'"),
        ("Angela B-PER X-PER", "unknown tag shape 'X-PER'"),
    ],
)
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_malformed_line(write, bad_line, problem, newline):
    path = write(f"a\tO\nb\tB-LOC\n\n{bad_line}\nc\tO\n", newline=newline)
    with pytest.raises(IOBFormatError) as err:
        read_iob(path)
    assert str(err.value) == f"{path}:4: {problem}: {bad_line!r}"
    assert (err.value.path, err.value.line_no, err.value.line) == (path, 4, bad_line)


def test_error_is_value_error(write):
    with pytest.raises(ValueError, match="train.iob:1: missing tag"):
        read_iob(write("x\n"))


def test_progress_bar(write, capsys):
    path = write("a\tO\n")
    read_iob(path)
    read_iob(path, progress=False)
    assert capsys.readouterr().err == ""
    read_iob(path, progress=True)
    assert "lines" in capsys.readouterr().err


# Encodings: a file that is not UTF-8 stops with its file, line and byte.
def test_latin1_byte_names_file_line_and_byte(tmp_path):
    path = tmp_path / "de" / "train.iob"
    path.parent.mkdir()
    path.write_bytes(b"Die\tO\nStadt\tO\n\nM\xfcnchen\tB-LOC\n")
    with pytest.raises(IOBFormatError) as err:
        read_iob(path)
    assert str(err.value).startswith(f"{path}:4: byte 0xfc at column 2 is not UTF-8 (it may be Latin-1")
    assert "re-save it as UTF-8" in str(err.value)
    assert err.value.line == "M\\xfcnchen\tB-LOC"
    assert "codec can't decode" not in str(err.value)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_with_bom_are_read(write, encoding):
    text = "München\tB-LOC\n\n北京\tB-LOC\n"
    data = text.encode(encoding) if encoding != "utf-16-be" else b"\xfe\xff" + text.encode("utf-16-be")
    path = write("")
    path.write_bytes(data)
    assert words_and_tags(read_iob(path)) == [(["München"], ["B-LOC"]), (["北京"], ["B-LOC"])]


def test_utf16_without_bom_is_named(write):
    path = write("Berlin\tB-LOC\n", encoding="utf-16-le")
    with pytest.raises(IOBFormatError, match=r"train.iob:1: U\+0000 \(NUL\) .*UTF-16 without a byte order mark"):
        read_iob(path)
    path = write("München\tB-LOC\n", encoding="utf-16-le")
    with pytest.raises(IOBFormatError, match=r"train.iob:1: byte 0xfc .*UTF-16 or UTF-32 without a byte order mark"):
        read_iob(path)


def test_broken_utf16_with_bom(write):
    path = write("")
    path.write_bytes(b"\xff\xfeB\x00e\x00r")  # odd length: a truncated code unit
    with pytest.raises(IOBFormatError, match=r"train.iob: not valid UTF-16: .*re-save it as UTF-8"):
        read_iob(path)


@pytest.mark.parametrize(
    "bad_line,char,column",
    [
        ("Ber\x00lin\tB-LOC", "U+0000 (NUL)", 4),
        ("Ber\u2028lin\tB-LOC", "U+2028 (LINE SEPARATOR)", 4),
        ("Ber\u2029lin\tB-LOC", "U+2029 (PARAGRAPH SEPARATOR)", 4),
        ("Ber\u2028lin B-LOC", "U+2028 (LINE SEPARATOR)", 4),  # would be a column separator for str.split
        ("Berlin\tB-LOC\x0c", "U+000C (control character)", 13),
        ("Ber\x85lin\tB-LOC", "U+0085 (control character)", 4),
        ("\x1fBerlin\tO", "U+001F (control character)", 1),
    ],
)
def test_control_characters_and_separators_are_rejected(write, bad_line, char, column):
    path = write(f"a\tO\n\n{bad_line}\n")
    with pytest.raises(IOBFormatError) as err:
        read_iob(path)
    assert str(err.value).startswith(f"{path}:3: {char} at column {column}")
    assert err.value.line == bad_line


def test_tabs_zero_width_joiners_and_nbsp_are_accepted(write):
    path = write("می\u200cخواهم\tO\nNew\u00a0York\tB-LOC\nx\t\tO\n")
    assert read_iob(path).sentences[0].words == ["می\u200cخواهم", "New\u00a0York", "x"]


@pytest.mark.parametrize("tag", ["B-O", "I-O", "S-O", "E-O", "B-o", "I-outside"])
def test_entity_labelled_outside_is_rejected(write, tag):
    path = write(f"a\tO\nb\t{tag}\n")
    with pytest.raises(IOBFormatError) as err:
        read_iob(path)
    assert str(err.value) == (
        f"{path}:2: entity labelled as outside ({tag}): a token outside every entity is tagged plain O: 'b\\t{tag}'"
    )


def test_unreadable_file_is_named(tmp_path):
    with pytest.raises(IOBFormatError, match=r"dir.iob: cannot read the file: Is a directory"):
        (tmp_path / "dir.iob").mkdir()
        read_iob(tmp_path / "dir.iob")
