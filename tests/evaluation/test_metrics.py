"""Metrics: strict span scores equal seqeval's (IOB2, default mode), and the
type-ignored F1, token accuracy and confusion table agree with them."""
import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics import accuracy_score, classification_report, f1_score, precision_score, recall_score
from spacy.tokens import Doc
from spacy.training import Example
from spacy.training.iob_utils import biluo_to_iob, iob_to_biluo

from spacy_xlmr_ner.evaluation import score_examples, span_detection_prf, type_confusion

NLP = spacy.blank("xx")
TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-DATE", "I-DATE"]


def valid_iob2(tags):
    # An I- tag that does not continue an entity starts one, as seqeval reads it.
    return biluo_to_iob(iob_to_biluo(tags))


def example(gold_tags, pred_tags):
    words = [f"w{i}" for i in range(len(gold_tags))]
    gold = Doc(NLP.vocab, words=words, ents=gold_tags)
    pred = Doc(NLP.vocab, words=words, ents=pred_tags)
    return Example(pred, gold)


sentences = st.lists(
    st.integers(1, 12).flatmap(
        lambda n: st.tuples(st.lists(st.sampled_from(TAGS), min_size=n, max_size=n),
                            st.lists(st.sampled_from(TAGS), min_size=n, max_size=n))
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(sentences)
def test_strict_scores_equal_seqeval(pairs):
    gold = [valid_iob2(g) for g, _ in pairs]
    pred = [valid_iob2(p) for _, p in pairs]
    scores = score_examples([example(g, p) for g, p in zip(gold, pred)])
    has_ents = any(t != "O" for sent in gold + pred for t in sent)
    if not has_ents:
        assert scores["ents_f"] is None
        return
    assert scores["ents_p"] == pytest.approx(precision_score(gold, pred))
    assert scores["ents_r"] == pytest.approx(recall_score(gold, pred))
    assert scores["ents_f"] == pytest.approx(f1_score(gold, pred))
    assert scores["token_acc"] == pytest.approx(accuracy_score(gold, pred))
    report = classification_report(gold, pred, output_dict=True, zero_division=0)
    for label, s in scores["ents_per_type"].items():
        assert s["p"] == pytest.approx(report[label]["precision"])
        assert s["r"] == pytest.approx(report[label]["recall"])
        assert s["f"] == pytest.approx(report[label]["f1-score"])


@settings(max_examples=100, deadline=None)
@given(sentences)
def test_confusion_table_adds_up_to_strict_and_untyped_counts(pairs):
    examples = [example(valid_iob2(g), valid_iob2(p)) for g, p in pairs]
    confusion = type_confusion(examples)
    strict = score_examples(examples)
    n_gold = sum(len(eg.reference.ents) for eg in examples)
    n_pred = sum(len(eg.predicted.ents) for eg in examples)
    assert sum(n for gold, row in confusion.items() if gold != "O" for n in row.values()) == n_gold
    assert sum(n for row in confusion.values() for pred, n in row.items() if pred != "O") == n_pred
    diagonal = sum(row.get(gold, 0) for gold, row in confusion.items() if gold != "O")
    assert diagonal == _strict_tp(strict, n_gold)
    boundaries_right = sum(n for gold, row in confusion.items() if gold != "O" for pred, n in row.items() if pred != "O")
    untyped = span_detection_prf(examples)
    if n_gold:
        assert untyped["r"] == pytest.approx(boundaries_right / n_gold)
    assert untyped["r"] is None or untyped["r"] >= (strict["ents_r"] or 0) - 1e-9


def _strict_tp(scores, n_gold):
    if not n_gold or scores["ents_r"] is None:
        return 0
    return round(scores["ents_r"] * n_gold)


def test_type_errors_count_for_untyped_but_not_strict():
    eg = example(["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "I-ORG", "O", "B-LOC"])
    scores = score_examples([eg])
    assert scores["ents_f"] == pytest.approx(0.5)
    assert scores["untyped_f"] == pytest.approx(1.0)
    assert scores["confusion"] == {"PER": {"ORG": 1}, "LOC": {"LOC": 1}}
    assert scores["token_acc"] == pytest.approx(2 / 4)


def test_missed_and_spurious_entities_in_confusion():
    eg = example(["B-PER", "O", "O"], ["O", "O", "B-LOC"])
    assert type_confusion([eg]) == {"PER": {"O": 1}, "O": {"LOC": 1}}
    assert span_detection_prf([eg]) == {"p": 0.0, "r": 0.0, "f": 0.0}


def test_retokenized_predictions_are_scored_through_the_alignment():
    gold = Doc(NLP.vocab, words=["Paris", "is", "nice", "!"], ents=["B-LOC", "O", "O", "O"])
    pred = Doc(NLP.vocab, words=["Paris", "is", "nice!"], spaces=[True, True, False])
    pred.set_ents([spacy.tokens.Span(pred, 0, 1, "LOC")])
    scores = score_examples([Example(pred, gold)])
    # "nice!" covers two gold tokens, both O: spaCy's alignment gives it gold tag O.
    assert scores["token_acc"] == pytest.approx(1.0)
    assert scores["ents_f"] == 1.0 and scores["untyped_f"] == 1.0
    pred.set_ents([], default="outside")
    scores = score_examples([Example(pred, gold)])
    assert scores["token_acc"] == pytest.approx(2 / 3)
    assert scores["ents_r"] == 0.0 and scores["confusion"] == {"LOC": {"O": 1}}


def test_restrict_labels_scores_only_the_shared_types():
    from spacy_xlmr_ner.evaluation import restrict_labels

    vocab = spacy.blank("xx").vocab
    words = ["Ana", "vive", "en", "Lima", "y", "lee", "El", "País"]
    gold = Doc(vocab, words=words, ents=["B-PER", "O", "O", "B-LOC", "O", "O", "B-MISC", "I-MISC"])
    pred = Doc(vocab, words=words, ents=["B-PER", "O", "O", "B-MISC", "O", "O", "B-ORG", "I-ORG"])
    eg = Example(pred, gold)
    before = score_examples([eg])
    (restricted,), removed = restrict_labels([eg], ["PER", "LOC", "ORG"])
    assert removed == {("gold", "MISC"): 1, ("predicted", "MISC"): 1}
    assert [(e.text, e.label_) for e in restricted.reference.ents] == [("Ana", "PER"), ("Lima", "LOC")]
    assert [(e.text, e.label_) for e in restricted.predicted.ents] == [("Ana", "PER"), ("El País", "ORG")]
    # The removed entities' tokens are "O", not missing: a prediction there counts as a false positive.
    assert [t.ent_iob_ for t in restricted.reference[6:]] == ["O", "O"]
    after = score_examples([restricted])
    assert after["ents_p"] == pytest.approx(0.5) and after["ents_r"] == pytest.approx(0.5)
    assert before["ents_f"] == pytest.approx(1 / 3)
    # The inputs are unchanged.
    assert [e.label_ for e in gold.ents] == ["PER", "LOC", "MISC"] and [e.label_ for e in pred.ents][-1] == "ORG"
    (same,), none = restrict_labels([eg], ["PER", "LOC", "ORG", "MISC"])
    assert not none and score_examples([same])["ents_f"] == pytest.approx(before["ents_f"])
