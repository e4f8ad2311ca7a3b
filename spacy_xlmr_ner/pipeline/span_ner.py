"""The `xlmr_span_ner` component: named entities by classifying every span of
up to `max_length` tokens on top of a transformer, with a token tagger beside
the span head; nested and overlapping entities in `doc.spans`, the best
non-overlapping ones in `doc.ents`."""
import warnings
from itertools import islice
from typing import Callable, Iterable, List, Optional, Tuple

import numpy
from spacy.language import Language
from spacy.tokens import Doc, Span, SpanGroup
from spacy.training import Example, validate_examples
from spacy.training.iob_utils import biluo_to_iob
from spacy.util import filter_spans
from spacy.vocab import Vocab
from thinc.api import Config, Model
from thinc.types import Floats2d, Ints2d

from ..decoding.labels import OUTSIDE, allowed_transitions, iob_labels, unweight_outside
from ..decoding.span_selection import (
    IGNORED,
    NO_ENTITY,
    candidate_classes,
    candidate_spans,
    combine_scores,
    gold_spans,
    select_non_overlapping,
    spans_above_threshold,
    tag_span_marginals,
)
from ..vectors import set_entity_vectors
from .entity_pipe import ASSIGNS, LISTENER_CONFIG, SCORE_WEIGHTS, SHARED_DEFAULTS, EntityPipe, masked_cross_entropy

DEFAULT_SPANS_KEY = "xlmr_span_ner"
# Covers 99.6-99.9% of the entities of WikiANN's de/en/es/nl/pl/ru training
# sets; the number of candidates, and so the head's cost, grows linearly with it.
DEFAULT_MAX_LENGTH = 10
# Nearly every candidate is "no entity" (about 40 for each gold entity on
# WikiANN): at full weight the head learns that prior and nothing else, and
# predicts no entity at all after a short fine-tuning run.
DEFAULT_NEGATIVE_WEIGHT = 0.05
# The tagger of `SpanClassifier.v2`: its "O" tag's loss weight (as
# `xlmr_ner`'s outside_weight) and its share of the score that picks doc.ents.
DEFAULT_OUTSIDE_WEIGHT = 0.2
DEFAULT_TAGGER_WEIGHT = 0.7

default_model_config = """
[model]
@architectures = "spacy-xlmr-ner.SpanClassifier.v2"
hidden_width = 256
nO = null
dropout = 0.1
init_scale = 0.02
"""
DEFAULT_MODEL = Config().from_str(default_model_config + LISTENER_CONFIG)["model"]

# Per doc: candidates, their class probabilities, and the tagger's tag
# probabilities (None for a model without a tagger).
SpanScores = Tuple[List[Ints2d], List[Floats2d], Optional[List[Floats2d]]]


@Language.factory(
    "xlmr_span_ner",
    assigns=ASSIGNS,
    default_config={
        "model": DEFAULT_MODEL,
        "spans_key": DEFAULT_SPANS_KEY,
        "max_length": DEFAULT_MAX_LENGTH,
        "threshold": 0.5,
        "negative_weight": DEFAULT_NEGATIVE_WEIGHT,
        "outside_weight": DEFAULT_OUTSIDE_WEIGHT,
        "tagger_weight": DEFAULT_TAGGER_WEIGHT,
        **SHARED_DEFAULTS,
    },
    default_score_weights=SCORE_WEIGHTS,
)
def make_xlmr_span_ner(
    nlp: Language,
    name: str,
    model: Model,
    spans_key: str,
    max_length: int,
    threshold: float,
    negative_weight: float,
    outside_weight: float,
    tagger_weight: float,
    head_lr_scale: float,
    entity_vectors: bool,
    scorer: Optional[Callable],
) -> "XLMRSpanNER":
    """Create an `xlmr_span_ner` component: named entities from a classifier
    of every span of up to `max_length` tokens.

    model (Model[Tuple[List[Doc], List[Ints2d]], List[Floats2d]]): Per doc,
        class probabilities ("no entity", then the labels) of its candidate
        spans, e.g. `spacy-xlmr-ner.SpanClassifier.v1`.
    spans_key (str): Key in `doc.spans` for every predicted entity, nested
        and overlapping ones included, with their probabilities in
        `doc.spans[spans_key].attrs["scores"]`. Training reads nested gold
        entities from the same key.
    max_length (int): The most tokens in an entity. Gold entities longer
        than that cannot be learned; `initialize` warns with their number.
    threshold (float): The least probability of a predicted entity.
    negative_weight (float): Weight in the loss of a "no entity" candidate,
        against 1 for an entity.
    outside_weight (float): For a model with a tagger
        (`spacy-xlmr-ner.SpanClassifier.v2`): weight in the tagger's loss of
        a token outside entities, against 1 (as `xlmr_ner`'s).
    tagger_weight (float): For a model with a tagger: its share, in [0, 1],
        of the score that chooses `doc.ents` (a weighted geometric mean of
        the span head's and the tagger's probabilities). 0 uses the span
        head alone.
    head_lr_scale (float): Learning rate of the head, as a multiple of the
        optimizer's (which the encoder gets).
    entity_vectors (bool): Whether to set `span._.entity_vector` on every
        predicted entity (see `spacy_xlmr_ner.vectors`).
    scorer (Optional[Callable]): The scoring method, `spacy.ner_scorer.v1`.
    """
    settings = dict(
        spans_key=spans_key, max_length=max_length, threshold=threshold, negative_weight=negative_weight,
        outside_weight=outside_weight, tagger_weight=tagger_weight,
    )
    return XLMRSpanNER(
        nlp.vocab, model, name, head_lr_scale=head_lr_scale, entity_vectors=entity_vectors, scorer=scorer, **settings
    )


class XLMRSpanNER(EntityPipe):
    """Named entity recognition as span classification.

    Every span of 1 to `max_length` tokens that neither starts nor ends on a
    whitespace token is a candidate; the model gives it a probability for
    "no entity" and for each label. A candidate whose most probable class is
    a label, at `threshold` or more, is an entity: all of them go to
    `doc.spans[spans_key]` (with `attrs["scores"]`, the label probabilities),
    and the best non-overlapping ones, highest probability first, to
    `doc.ents`.

    With a model that also tags tokens (`spacy-xlmr-ner.SpanClassifier.v2`),
    the tagger is trained beside the span head, and `doc.ents` are chosen
    by a weighted geometric mean of the span head's probability and the
    tagger's probability of the candidate (`tagger_weight`). `doc.spans`
    holds the span head's entities, nested ones included (the tagger cannot
    give those), and the entities of `doc.ents`.
    """

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "xlmr_span_ner",
        *,
        spans_key: str = DEFAULT_SPANS_KEY,
        max_length: int = DEFAULT_MAX_LENGTH,
        threshold: float = 0.5,
        negative_weight: float = DEFAULT_NEGATIVE_WEIGHT,
        outside_weight: float = DEFAULT_OUTSIDE_WEIGHT,
        tagger_weight: float = DEFAULT_TAGGER_WEIGHT,
        head_lr_scale: float = 10.0,
        entity_vectors: bool = True,
        scorer: Optional[Callable] = None,
    ) -> None:
        """Initialize the component; see `make_xlmr_span_ner`.

        vocab (Vocab): The shared vocabulary.
        model (Model): The span classifier.
        name (str): The component instance name, used to add entries to the
            losses during training.
        """
        if max_length < 1:
            raise ValueError(f"[xlmr_span_ner] max_length must be at least 1, not {max_length}")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"[xlmr_span_ner] threshold must be in [0, 1], not {threshold}")
        if not 0.0 < negative_weight <= 1.0:
            raise ValueError(f"[xlmr_span_ner] negative_weight must be in (0, 1], not {negative_weight}")
        if not 0.0 < outside_weight <= 1.0:
            raise ValueError(f"[xlmr_span_ner] outside_weight must be in (0, 1], not {outside_weight}")
        if not 0.0 <= tagger_weight <= 1.0:
            raise ValueError(f"[xlmr_span_ner] tagger_weight must be in [0, 1], not {tagger_weight}")
        super().__init__(
            vocab, model, name, head_lr_scale=head_lr_scale, scorer=scorer, entity_vectors=entity_vectors,
            spans_key=spans_key, max_length=max_length, threshold=threshold, negative_weight=negative_weight,
            outside_weight=outside_weight, tagger_weight=tagger_weight,
        )

    @property
    def n_classes(self) -> int:
        """RETURNS (int): The classes the model predicts: "no entity" and
        the labels."""
        return len(self.labels) + 1

    @property
    def has_tagger(self) -> bool:
        """RETURNS (bool): Whether the model also tags tokens."""
        return self.model.has_ref("tag_output")

    @property
    def tags(self) -> List[str]:
        """RETURNS (List[str]): The IOB2 tags of the model's tagger, in order."""
        return iob_labels(self.labels)

    def candidates(self, docs: Iterable[Doc]) -> List[Ints2d]:
        """docs (Iterable[Doc]): Documents. RETURNS (List[Ints2d]): Per doc,
        its candidate spans as (start, end) token rows."""
        return [candidate_spans(doc, self.cfg["max_length"]) for doc in docs]

    def predict(self, docs: Iterable[Doc]) -> SpanScores:
        """Score the candidate spans of a batch of documents, without
        modifying them.

        docs (Iterable[Doc]): The documents to predict.
        RETURNS (Tuple[List[Ints2d], List[Floats2d], Optional[List[Floats2d]]]):
            Per doc, its candidates, their class probabilities and, for a
            model with a tagger, the tokens' tag probabilities.
        """
        docs = list(docs)
        candidates = self.candidates(docs)
        if not any(len(c) for c in candidates):
            ops = self.model.ops
            tags = [ops.alloc2f(len(doc), len(self.tags)) for doc in docs] if self.has_tagger else None
            return candidates, [ops.alloc2f(0, self.n_classes) for _ in docs], tags
        return self.scores_of((docs, candidates), self.model.predict((docs, candidates)))

    def set_annotations(self, docs: Iterable[Doc], scores: SpanScores) -> None:
        """Set the entities of each doc from its scored candidates.

        docs (Iterable[Doc]): The documents to modify.
        scores (Tuple[List[Ints2d], List[Floats2d], Optional[List[Floats2d]]]):
            As returned by `predict`.
        """
        key = self.cfg["spans_key"]
        threshold = self.cfg["threshold"]
        ops = self.model.ops
        all_candidates, all_probs, all_tags = scores
        transitions = allowed_transitions(self.tags)
        if all_tags is None:
            all_tags = [None] * len(all_probs)
        for doc, candidates, probs, tag_probs in zip(docs, all_candidates, all_probs, all_tags):
            probs = ops.to_numpy(probs)
            spans, confidences = spans_above_threshold(doc, candidates, probs, self.labels, threshold)
            weight = self.cfg.get("tagger_weight", 0.0)
            if tag_probs is None or weight == 0.0 or not len(candidates):
                ents = [spans[i] for i in select_non_overlapping(spans, confidences)]
            else:
                tag_probs = unweight_outside(ops.to_numpy(tag_probs), self.cfg.get("outside_weight", 1.0))
                marginals = tag_span_marginals(candidates, tag_probs, *transitions)
                combined = combine_scores(probs, marginals, weight)
                found, found_scores = spans_above_threshold(doc, candidates, combined, self.labels, threshold)
                chosen = select_non_overlapping(found, found_scores)
                ents = [found[i] for i in chosen]
                spans, confidences = _with_entities(spans, confidences, ents, [found_scores[i] for i in chosen])
            doc.set_ents(ents, default="outside")
            doc.spans[key] = SpanGroup(doc, name=key, spans=spans, attrs={"scores": confidences})
            if self.entity_vectors:
                set_entity_vectors(doc, spans)

    def model_input(self, docs: List[Doc]) -> Optional[Tuple[List[Doc], List[Ints2d]]]:
        """docs (List[Doc]): A batch. RETURNS (Optional[Tuple[List[Doc],
        List[Ints2d]]]): The docs and their candidates, or None when no doc
        has a candidate."""
        candidates = self.candidates(docs)
        return (docs, candidates) if any(len(c) for c in candidates) else None

    def scores_of(self, X: Tuple[List[Doc], List[Ints2d]], Y) -> SpanScores:
        """X (Tuple[List[Doc], List[Ints2d]]): The docs and candidates.
        Y (Union[List[Floats2d], Tuple[List[Floats2d], List[Floats2d]]]):
            The model's output: class probabilities, and tag probabilities
            for a model with a tagger.
        RETURNS (Tuple[List[Ints2d], List[Floats2d], Optional[List[Floats2d]]]):
            The candidates, class probabilities and tag probabilities."""
        if isinstance(Y, tuple):
            return X[1], Y[0], Y[1]
        return X[1], Y, None

    def get_loss(self, examples: Iterable[Example], scores: SpanScores) -> Tuple[float, List[Floats2d]]:
        """Cross-entropy against the gold class of each candidate, averaged
        over the candidates whose class is known, a "no entity" candidate
        weighing `negative_weight`.

        Gold entities come from `doc.spans[spans_key]` of the reference doc
        when it has that key (nested and overlapping entities), otherwise
        from `doc.ents`, where tokens of unknown annotation ("-") make the
        candidates that cover them unknown. Candidates equal to a gold entity
        of a label the component does not predict are left out too.

        A model with a tagger adds the tagger's cross-entropy against the
        gold IOB2 tags (of the outermost entities, for nested ones), a token
        outside entities weighing `outside_weight`; tokens of unknown
        annotation are left out.

        examples (Iterable[Example]): The batch of examples.
        scores (Tuple[List[Ints2d], List[Floats2d], Optional[List[Floats2d]]]):
            The candidates, their probabilities and the tag probabilities.
        RETURNS (Tuple[float, Union[List[Floats2d], Tuple[List[Floats2d],
            List[Floats2d]]]]): The loss and its gradient, shaped as the
            model's output.
        """
        examples = list(examples)
        validate_examples(examples, "XLMRSpanNER.get_loss")
        candidates, probs, tag_probs = scores
        ops = self.model.ops
        truths = numpy.concatenate(
            [self._gold_classes(eg, c) for eg, c in zip(examples, candidates)] + [numpy.zeros(0, dtype="int32")]
        )
        weights = numpy.where(truths == NO_ENTITY, self.cfg.get("negative_weight", 1.0), 1.0).astype("f")
        loss, d_probs = masked_cross_entropy(ops, probs, truths, weights)
        if tag_probs is None:
            return loss, d_probs
        tag_ids = {tag: i for i, tag in enumerate(self.tags)}
        tag_truths = numpy.asarray(
            [tag_ids.get(tag, IGNORED) for eg in examples for tag in self._gold_tags(eg)], dtype="int32"
        )
        tag_weights = numpy.where(tag_truths == tag_ids[OUTSIDE], self.cfg.get("outside_weight", 1.0), 1.0)
        tag_loss, d_tags = masked_cross_entropy(ops, tag_probs, tag_truths, tag_weights.astype("f"))
        return loss + tag_loss, (d_probs, d_tags)

    def _gold_tags(self, eg: Example) -> List[Optional[str]]:
        """The gold IOB2 tag of each predicted token: of the outermost
        entities of `doc.spans[spans_key]` where the reference has it,
        otherwise of `doc.ents`; None where unknown."""
        key = self.cfg["spans_key"]
        if key not in eg.reference.spans:
            return [tag if tag not in ("-", "") else None for tag in biluo_to_iob(eg.get_aligned_ner())]
        tags: List[Optional[str]] = [OUTSIDE] * len(eg.predicted)
        spans = eg.get_aligned_spans_y2x(eg.reference.spans[key], allow_overlap=True)
        for span in filter_spans(gold_spans(spans)):
            tags[span.start] = f"B-{span.label_}"
            for i in range(span.start + 1, span.end):
                tags[i] = f"I-{span.label_}"
        return tags

    def _gold_classes(self, eg: Example, candidates: Ints2d) -> numpy.ndarray:
        doc = eg.predicted
        key = self.cfg["spans_key"]
        class_of = {label: i + 1 for i, label in enumerate(self.labels)}
        if key in eg.reference.spans:
            spans = eg.get_aligned_spans_y2x(eg.reference.spans[key], allow_overlap=True)
            known = None
        else:
            spans = eg.get_aligned_spans_y2x(eg.reference.ents)
            known = numpy.asarray([tag not in (None, "-") for tag in eg.get_aligned_ner()], dtype=bool)
        gold = [(s.start, s.end, class_of.get(s.label_, IGNORED)) for s in gold_spans(spans)]
        return candidate_classes(candidates, len(doc), self.cfg["max_length"], gold, known)

    def gold_labels(self, get_examples: Callable[[], Iterable[Example]]) -> Iterable[str]:
        """The label of every gold entity, from `doc.spans[spans_key]` where
        the reference docs have it. Warns with the number of gold entities
        longer than `max_length` tokens, which the component cannot learn.

        get_examples (Callable[[], Iterable[Example]]): The training examples.
        RETURNS (Iterable[str]): The labels.
        """
        key = self.cfg["spans_key"]
        max_length = self.cfg["max_length"]
        found = []
        n_long = 0
        for eg in get_examples():
            if key in eg.reference.spans:
                spans = eg.get_aligned_spans_y2x(eg.reference.spans[key], allow_overlap=True)
            else:
                spans = eg.get_aligned_spans_y2x(eg.reference.ents)
            for span in gold_spans(spans):
                found.append(span.label_)
                n_long += len(span) > max_length
        if n_long:
            warnings.warn(
                f"[xlmr_span_ner] {n_long} of {len(found)} gold entities in the training "
                f"examples are longer than max_length = {max_length} tokens: they are "
                "no candidates, so the component cannot learn or predict them. Raise "
                "max_length to cover them."
            )
        return found

    def initialize_model(self, get_examples: Callable[[], Iterable[Example]]) -> None:
        """Build the model's layers once the labels are known.

        get_examples (Callable[[], Iterable[Example]]): The training examples.
        """
        max_length = self.cfg["max_length"]
        if not self.model.has_dim("nW"):
            self.model.set_dim("nW", max_length)
        elif self.model.get_dim("nW") < max_length:
            raise ValueError(
                f"[xlmr_span_ner] The model scores spans of at most {self.model.get_dim('nW')} "
                f"tokens, less than max_length = {max_length}"
            )
        docs = [eg.predicted for eg in islice(get_examples(), 10)]
        candidates = self.candidates(docs)
        Y = [numpy.zeros((len(c), self.n_classes), dtype="f") for c in candidates]
        self.model.initialize(X=(docs, candidates), Y=[self.model.ops.asarray2f(y) for y in Y])



def _with_entities(
    spans: List[Span], scores: List[float], ents: List[Span], ent_scores: List[float]
) -> Tuple[List[Span], List[float]]:
    """The span head's entities and the chosen `ents` together (so that
    `doc.ents` is part of `doc.spans`), ordered by start then end; a span
    chosen by both keeps the higher of its two scores.

    spans (List[Span]): The span head's entities.
    scores (List[float]): The span head's probability of each one's label.
    ents (List[Span]): The entities chosen by the combined scores.
    ent_scores (List[float]): Their combined probabilities.
    RETURNS (Tuple[List[Span], List[float]]): The spans and their scores.
    """
    best = {(s.start, s.end, s.label_): (s, score) for s, score in zip(spans, scores)}
    for ent, score in zip(ents, ent_scores):
        key = (ent.start, ent.end, ent.label_)
        if key not in best or best[key][1] < score:
            best[key] = (ent, float(score))
    ordered = [best[key] for key in sorted(best)]
    return [span for span, _ in ordered], [score for _, score in ordered]
