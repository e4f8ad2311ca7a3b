import functools
import pickle
import unicodedata
from pathlib import Path

import pytest
import spacy
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from spacy_xlmr_ner.io.iob import read_iob
from spacy_xlmr_ner.tokenization.spacing import infer_spaces, is_unspaced_char
from spacy_xlmr_ner.tokenization import tokenizer as tokenizer_module
from spacy_xlmr_ner.tokenization.tokenizer import MAX_RUN, PIECE, MultilingualTokenizer
from helpers import REPO

NAME = "spacy-xlmr-ner.MultilingualTokenizer.v1"
ZH_SAMPLE = sorted((REPO / "corpus" / "sample" / "zh").glob("*.iob"))
# Characters that attach to the preceding character besides combining marks.
JOINERS = "\u200c\u200d\uff9e\uff9f"


def make_nlp():
    return spacy.blank("xx", config={"nlp": {"tokenizer": {"@tokenizers": NAME}}})


NLP = make_nlp()
PLAIN = spacy.blank("xx")


def words(text, nlp=NLP):
    doc = nlp(text)
    assert doc.text == text
    return [t.text for t in doc]


def layout(doc):
    return [(t.text, t.whitespace_, t.norm_) for t in doc]


def is_extender(ch):
    return unicodedata.category(ch)[0] == "M" or ch in JOINERS


def check_tokens(text, nlp=NLP):
    """The invariants every tokenization must keep."""
    doc = nlp(text)
    assert doc.text == text
    protected = nlp.tokenizer._special_orths()[0]
    end = 0
    for token in doc:
        assert token.text and token.idx == end
        end += len(token.text_with_ws)
        if token.is_space or token.text in protected:
            continue
        # A token holding an unspaced base character is that character plus its extenders.
        if any(is_unspaced_char(c) and not is_extender(c) for c in token.text):
            assert is_unspaced_char(token.text[0]) and all(map(is_extender, token.text[1:])), token.text
    assert end == len(text)
    return doc


def test_registered_factory():
    assert isinstance(NLP.tokenizer, MultilingualTokenizer)
    assert NLP.config["nlp"]["tokenizer"]["@tokenizers"] == NAME


@pytest.mark.parametrize("lang", ["xx", "en", "ru"])
def test_rules_are_spacys(lang):
    # Same rules and patterns as `spacy.Tokenizer.v1` builds from `nlp.Defaults`.
    ours = spacy.blank(lang, config={"nlp": {"tokenizer": {"@tokenizers": NAME}}}).tokenizer
    assert ours.to_bytes(exclude=["vocab"]) == spacy.blank(lang).tokenizer.to_bytes(exclude=["vocab"])


@pytest.mark.parametrize("path", ZH_SAMPLE, ids=lambda p: p.name)
def test_zh_sample_round_trip(path):
    # Corpus tokens -> text (spaces from infer_spaces) -> our tokens == corpus tokens.
    assert len(ZH_SAMPLE) == 3  # train, dev, test: a moved corpus must not skip this silently
    sentences = read_iob(path).sentences
    assert sentences
    for sent in sentences:
        text = "".join(w + " " * s for w, s in zip(sent.words, infer_spaces(sent.words)))
        assert words(text) == sent.words


@pytest.mark.parametrize(
    "tokens",
    [
        # Japanese: kanji, kana, katakana loanwords, Latin, digits, brackets.
        ["東", "京", "で", "iPhone", "15", "を", "買", "っ", "た", "。"],
        ["マ", "イ", "ク", "ロ", "ソ", "フ", "ト", "は", "ア", "メ", "リ", "カ", "の", "企", "業", "で", "す", "。"],
        ["私", "は", "2020", "年", "に", "ト", "ヨ", "タ", "で", "働", "い", "た", "。"],
        ["「", "君", "の", "名", "は", "。", "」", "は", "新", "海", "誠", "の", "映", "画", "だ", "。"],
        ["安", "倍", "晋", "三", "と", "Donald", "Trump", "が", "会", "談", "し", "た", "。"],
        ["コ", "ー", "ヒ", "ー", "を", "飲", "む"],
        # Thai: a unit is a base character plus its vowel and tone marks.
        ["ก", "รุ", "ง", "เ", "ท", "พ", "ฯ", "เ", "ป็", "น", "เ", "มื", "อ", "ง", "ห", "ล", "ว", "ง"],
        ["น้", "ำ", "ท่", "ว", "ม", "ก", "รุ", "ง", "เ", "ท", "พ", "ฯ", "ปี", "2554"],
        # Chinese with an English name, digits and full-width punctuation.
        ["2008", "年", "北", "京", "奥", "运", "会", "由", "Jacques", "Rogge", "宣", "布", "开", "幕", "。"],
        ["苹", "果", "公", "司", "（", "Apple", "Inc", ".", "）", "总", "部", "位", "于", "库", "比", "蒂", "诺", "，"],
    ],
)
def test_char_tokenized_sentence_round_trip(tokens):
    text = "".join(w + " " * s for w, s in zip(tokens, infer_spaces(tokens)))
    assert words(text) == tokens
    check_tokens(text)


@pytest.mark.parametrize(
    "text",
    [
        "Angela Merkel visited Washington, D.C. on Jan. 5th (2015) -- didn't she?",
        "Владимир Путин посетил Санкт-Петербург в 2019 г.",
        "ذهب محمد إلى القاهرة يوم الأحد.",
        "שלום, אני גר בתל אביב.",
        "नरेंद्र मोदी भारत के प्रधानमंत्री हैं।",
        "서울은 대한민국의 수도이다. 삼성전자는 수원에 있다!",
        "Ο Αλέξης ζει στην Αθήνα.",
        "  leading and trailing  \n\t whitespace \u00a0nbsp ",
        "emoji 👨\u200d👩\u200d👧 👍🏽 :) https://example.com/a?b=c mail@example.org",
        "",
    ],
)
def test_spaced_scripts_match_spacy(text):
    assert layout(NLP(text)) == layout(PLAIN(text))


@given(st.text().map(lambda t: "".join(c for c in t if not is_unspaced_char(c))))
@settings(max_examples=150, deadline=None)
def test_text_without_unspaced_chars_matches_spacy(text):
    assume(not tokenizer_module._LONG_RUN_RE.search(text))  # longer runs are cut: see the tests below
    assert layout(NLP(text)) == layout(PLAIN(text))


@pytest.mark.parametrize(
    "text,expected",
    [
        # Korean keeps spaCy's tokens; the Chinese around it is split.
        ("서울은 한국의 수도, 北京是中国的首都。", ["서울은", "한국의", "수도", ",", "北", "京", "是", "中", "国", "的", "首", "都", "。"]),
        # Full-width forms are unspaced characters: letters and digits included.
        ("ＮＢＡ在２０２０年", ["Ｎ", "Ｂ", "Ａ", "在", "２", "０", "２", "０", "年"]),
        ("ｶﾞｽ会社", ["ｶﾞ", "ｽ", "会", "社"]),
        # Decomposed voiced kana, ideographic variation selector and ZWJ stay on their base.
        ("か\u3099き\u309a", ["か\u3099", "き\u309a"]),
        ("葛\U000e0100城", ["葛\U000e0100", "城"]),
        ("中\u200d国", ["中\u200d", "国"]),
        # A zero-width space is not a joiner: it becomes a token of its own.
        ("中\u200b国", ["中", "\u200b", "国"]),
        # Whitespace: ideographic space, NBSP, newlines.
        ("东京\u3000大阪", ["东", "京", "\u3000", "大", "阪"]),
        ("北京\u00a0上海\n\n广州 ", ["北", "京", "\u00a0", "上", "海", "\n\n", "广", "州"]),
        # RTL text next to Chinese; punctuation between runs is split by spaCy's rules.
        ("مرحبا 你好!", ["مرحبا", "你", "好", "!"]),
        ("他说:“Hello, world!”然后走了", ["他", "说", ":", "“", "Hello", ",", "world", "!", "”", "然", "后", "走", "了"]),
        ("访问http://t.cn/abc。", ["访", "问", "http://t.cn/abc", "。"]),
        # Thai words separated by spaces.
        ("ผม ชื่อ สมชาย", ["ผ", "ม", "ชื่", "อ", "ส", "ม", "ช", "า", "ย"]),
    ],
)
def test_mixed_script(text, expected):
    assert words(text) == expected
    check_tokens(text)


def test_emoji_zwj_sequence_keeps_spacy_rules():
    emoji = "👨\u200d👩\u200d👧"
    # Emoji are not unspaced characters: the run between units is tokenized by spaCy alone.
    assert words(f"我爱{emoji}！") == ["我", "爱", *words(emoji, PLAIN), "！"]
    check_tokens(f"家族{emoji}👍🏽です")


def test_whitespace_and_norms():
    doc = NLP("北京\u00a0上海 ")
    assert [t.whitespace_ for t in doc] == ["", "", "", "", " "]
    # The NBSP special case sets a norm; it survives the rebuilt Doc.
    assert doc[2].norm_ == PLAIN("\u00a0")[0].norm_


def test_special_cases_are_not_split():
    nlp = make_nlp()
    nlp.tokenizer.add_special_case("ＮＨＫ", [{"ORTH": "ＮＨＫ"}])
    # Like any special case, it applies where spaCy sees it as a chunk (or affix-delimited).
    assert words("ＮＨＫ の番組", nlp) == ["ＮＨＫ", "の", "番", "組"]
    assert words("ＮＨＫの", nlp) == ["Ｎ", "Ｈ", "Ｋ", "の"]
    assert words("¯\\(ツ)/¯", nlp) == ["¯\\(ツ)/¯"]  # a default `xx` exception
    nlp.tokenizer.rules = {}
    assert words("ＮＨＫ", nlp) == ["Ｎ", "Ｈ", "Ｋ"]


def test_explain_matches_tokens():
    for text in ["钱学森在NBA打球。", "他说:“Hello, world!”然后", "สวัสดีครับ ผม", "ok 。"]:
        explained = [t for _, t in NLP.tokenizer.explain(text)]
        assert explained == [t.text for t in NLP(text) if not t.is_space]
    assert ("UNSPACED", "钱") in NLP.tokenizer.explain("钱学森")


_BIASED = st.one_of(
    st.characters(min_codepoint=0x4E00, max_codepoint=0x4E80),
    st.characters(min_codepoint=0x3000, max_codepoint=0x30FF),
    st.characters(min_codepoint=0x0E00, max_codepoint=0x0E7F),
    st.characters(min_codepoint=0xFF00, max_codepoint=0xFFEF),
    st.characters(min_codepoint=0x0300, max_codepoint=0x036F),
    st.sampled_from(list(" \t\n\u00a0\u3000\u200b\u200c\u200d\ufe0f\U000e0100aZ09.,!?()-'\"@/:👍🏽👨")),
)


@given(st.one_of(st.text(), st.text(alphabet=_BIASED)))
@settings(max_examples=300, deadline=None)
def test_any_text(text):
    check_tokens(text)


@given(st.lists(st.text(alphabet=_BIASED, max_size=20), max_size=6))
@settings(max_examples=50, deadline=None)
def test_pipe_equals_call(texts):
    expected = [layout(NLP(t)) for t in texts]
    assert [layout(d) for d in NLP.pipe(texts)] == expected
    assert [layout(d) for d in NLP.tokenizer.pipe(texts)] == expected


TEXTS = ["钱学森在NBA打球。", "ＮＨＫ の番組", "สวัสดีครับ ผม", "Hello, world!", "", "北京\u00a0上海 "]


def test_to_disk_and_load(tmp_path):
    nlp = make_nlp()
    nlp.tokenizer.add_special_case("ＮＨＫ", [{"ORTH": "ＮＨＫ"}])
    nlp.tokenizer.add_special_case("gimme", [{"ORTH": "gim"}, {"ORTH": "me", "NORM": "me!"}])
    nlp.to_disk(tmp_path / "nlp")
    loaded = spacy.load(tmp_path / "nlp")
    assert isinstance(loaded.tokenizer, MultilingualTokenizer)
    assert loaded.config["nlp"]["tokenizer"]["@tokenizers"] == NAME
    assert loaded.tokenizer.rules.keys() == nlp.tokenizer.rules.keys()
    for text in TEXTS + ["gimme ＮＨＫ"]:
        assert layout(loaded(text)) == layout(nlp(text))
    assert [t.text for t in loaded("gimme ＮＨＫ")] == ["gim", "me", "ＮＨＫ"]
    assert loaded("gimme")[1].norm_ == "me!"


def test_bytes_and_pickle():
    nlp = make_nlp()
    nlp.tokenizer.add_special_case("ＮＨＫ", [{"ORTH": "ＮＨＫ"}])
    fresh = make_nlp().tokenizer.from_bytes(nlp.tokenizer.to_bytes())
    unpickled = pickle.loads(pickle.dumps(nlp.tokenizer))
    for tokenizer in (fresh, unpickled):
        assert isinstance(tokenizer, MultilingualTokenizer)
        for text in TEXTS:
            assert layout(tokenizer(text)) == layout(nlp(text))


# Long runs without whitespace: cut into pieces, so that their cost is linear in their length.
def _mix(n, alphabet, seed=0):
    import random

    rnd = random.Random(seed)
    return "".join(rnd.choice(alphabet) for _ in range(n))


PATHOLOGICAL = {
    "parens": lambda n: "(" * n,
    "bangs": lambda n: "!" * n,
    "emoji": lambda n: "😀" * n,
    "zwj_family": lambda n: ("👨\u200d👩\u200d👧" * n)[:n],
    "skin_tone": lambda n: ("👍🏽" * n)[:n],
    "flags": lambda n: ("🇩🇪" * n)[:n],
    "letters": lambda n: "a" * n,
    "combining": lambda n: ("e\u0301\u0302" * n)[:n],
    "url": lambda n: ("https://example.com/" + "a/b?c=d&e=%20" * n)[:n],
    "punct_mix": lambda n: _mix(n, "()[]{}!?.,;:'\"-#$%&*+/<=>@^_`|~"),
    "symbol_mix": lambda n: _mix(n, "()!?.,😀😁🎉👍🏽\u200d€$%a1"),
    "cjk_latin": lambda n: _mix(n, "北京中国的首都。，「」NBA1995"),
    "thai": lambda n: ("กรุงเทพฯเป็นเมืองหลวง" * n)[:n],
}


@pytest.mark.parametrize("n", [2_000, 8_000, 32_000])
@pytest.mark.parametrize("kind", sorted(PATHOLOGICAL))
def test_long_runs_keep_text_and_offsets(kind, n):
    text = PATHOLOGICAL[kind](n)
    for padded in (text, f"Before {text} after.\n"):
        doc = check_tokens(padded)
        assert max(len(t) for t in doc) <= max(PIECE, MAX_RUN)


def test_cut_points_are_safe_and_bounded():
    for kind, make in PATHOLOGICAL.items():
        run = make(1_000)
        cuts = tokenizer_module._cut_points(run)
        pieces = [run[a:b] for a, b in zip([0] + cuts, cuts + [len(run)])]
        assert "".join(pieces) == run and all(0 < len(p) <= PIECE for p in pieces), kind
        regional = kind == "flags"
        assert all(tokenizer_module._cut_allowed(run, i) for i in cuts) or regional, kind
        assert not regional or all(len(p) % 2 == 0 for p in pieces)  # no flag split
    # Between words and punctuation rather than inside a word.
    assert tokenizer_module._cut_points("abcdefghij." * 10)[:2] == [32, 55]


def _prose_texts():
    texts = [line for line in (REPO / "corpus" / "sample" / "sentences.txt").read_text("utf8").splitlines()]
    for path in sorted((REPO / "corpus" / "sample").glob("*/*.iob")):
        for sent in read_iob(path).sentences:
            texts.append("".join(w + " " * s for w, s in zip(sent.words, infer_spaces(sent.words))))
    # Whole files as one text: Chinese without spaces makes runs far longer than MAX_RUN.
    by_file = {}
    for path in sorted((REPO / "corpus" / "sample").glob("*/*.iob")):
        by_file[path] = "".join(
            "".join(w + " " * s for w, s in zip(sent.words, infer_spaces(sent.words))) for sent in read_iob(path).sentences
        )
    texts += by_file.values()
    texts += [
        "Angela Merkel visited Washington, D.C. on Jan. 5th (2015) -- didn't she? See https://example.com/a?b=c.",
        "Mail mail@example.org, call +49 (0)30 1234-5678; the Donaudampfschifffahrtsgesellschaftskapitän said \"no!\"...",
        "東京でiPhone15を買った。「君の名は。」は新海誠の映画だ。" * 20,
    ]
    return texts


def test_prose_and_corpus_samples_tokenize_as_without_cuts(monkeypatch):
    texts = _prose_texts()
    assert any(tokenizer_module._LONG_RUN_RE.search(t) for t in texts)  # the cuts are exercised
    cut = [layout(NLP(t)) for t in texts]
    monkeypatch.setattr(tokenizer_module, "_segments", lambda text: None)
    assert cut == [layout(NLP(t)) for t in texts]


def _prose(n):
    import random

    words_ = [line.split("\t")[0] for path in sorted((REPO / "corpus" / "sample").glob("[!z]*/*.iob"))
              for line in path.read_text("utf8").splitlines() if line.strip()]
    rnd = random.Random(0)
    out = []
    while sum(map(len, out)) + len(out) < n:
        out.append(rnd.choice(words_))
    return " ".join(out)[:n]


@functools.lru_cache(maxsize=None)
def _seconds(text):
    """Best of three, each on a fresh tokenizer (an empty cache, as for new text)."""
    import time

    best = float("inf")
    for _ in range(3):
        tokenizer = make_nlp().tokenizer
        start = time.perf_counter()
        tokenizer(text)
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize("kind", ["parens", "bangs", "emoji", "punct_mix", "symbol_mix", "url", "letters", "flags"])
def test_long_runs_cost_about_what_prose_costs(kind):
    # Relative bounds only (same process, same machine, same moment): no wall-clock limits.
    prose = {n: _seconds(_prose(n)) for n in (8_000, 32_000)}
    cost = {n: _seconds(PATHOLOGICAL[kind](n)) for n in (8_000, 32_000)}
    # About what prose costs: a pathological character may be a token where prose has ~6 per token.
    assert cost[32_000] <= 10 * prose[32_000] + 0.05, (kind, cost, prose)
    # Linear, not quadratic: 4x the text costs about 4x (16x if quadratic).
    assert cost[32_000] <= 8 * cost[8_000] + 0.05, (kind, cost)


def test_norms_survive_cut_text():
    doc = check_tokens("x\u00a0" + "(" * (MAX_RUN * 3) + " gimme")
    assert doc[1].text == "\u00a0" and doc[1].norm_ == PLAIN("\u00a0")[0].norm_
