"""The `xlmr_ner` component: token classification over IOB2 tags on top of a
transformer, with constrained decoding into `doc.ents`."""
from itertools import islice
from typing import Callable, Iterable, List, Optional, Tuple

import numpy
from spacy.language import Language
from spacy.tokens import Doc, SpanGroup
from spacy.training import Example, validate_examples
from spacy.training.iob_utils import biluo_to_iob
from spacy.vocab import Vocab
from thinc.api import Config, Model
from thinc.types import Floats2d

from ..decoding import allowed_transitions, iob_labels, tags_to_spans, viterbi_decode
from ..decoding.labels import OUTSIDE, unweight_outside
from ..vectors import set_entity_vectors
from .entity_pipe import ASSIGNS, LISTENER_CONFIG, SCORE_WEIGHTS, SHARED_DEFAULTS, EntityPipe, masked_cross_entropy

DEFAULT_SPANS_KEY = "xlmr_ner"

default_model_config = """
[model]
@architectures = "spacy-xlmr-ner.TokenClassifier.v1"
nO = null
dropout = 0.1
init_scale = 0.02
"""
DEFAULT_MODEL = Config().from_str(default_model_config + LISTENER_CONFIG)["model"]


@Language.factory(
    "xlmr_ner",
    assigns=ASSIGNS,
    default_config={
        "model": DEFAULT_MODEL,
        "spans_key": DEFAULT_SPANS_KEY,
        "outside_weight": 1.0,
        **SHARED_DEFAULTS,
    },
    default_score_weights=SCORE_WEIGHTS,
)
def make_xlmr_ner(
    nlp: Language,
    name: str,
    model: Model[List[Doc], List[Floats2d]],
    spans_key: str,
    head_lr_scale: float,
    scorer: Optional[Callable],
    entity_vectors: bool = True,
    outside_weight: float = 1.0,
) -> "XLMRNER":
    """Create an `xlmr_ner` component: named entities from a token classifier
    over IOB2 tags, decoded with a constrained Viterbi search.

    model (Model[List[Doc], List[Floats2d]]): Per doc, IOB2 tag probabilities
        of shape (n_tokens, n_tags), e.g. `spacy-xlmr-ner.TokenClassifier.v1`.
    spans_key (str): Key in `doc.spans` where the entities are also stored,
        with their confidence scores in `doc.spans[spans_key].attrs["scores"]`.
    head_lr_scale (float): Learning rate of the output layer, as a multiple
        of the optimizer's (which the encoder gets). The layer starts random
        and small; at 10x it is useful after a few dozen steps instead of
        most of a short run (WikiANN de, 250 steps: dev F1 at step 125 went
        from 55 to 75).
    scorer (Optional[Callable]): The scoring method, `spacy.ner_scorer.v1`.
    entity_vectors (bool): Whether to set `span._.entity_vector` on every
        predicted entity (see `spacy_xlmr_ner.vectors`).
    outside_weight (float): Weight of the tokens outside entities in the
        training loss, relative to the entity tokens'. Below 1, data where
        most tokens are outside entities (news, running text) send the encoder
        more of the entity types' signal per step; the probabilities are
        corrected for the weight before decoding, so the model still
        estimates the unweighted probabilities.
    """
    return XLMRNER(
        nlp.vocab,
        model,
        name,
        spans_key=spans_key,
        head_lr_scale=head_lr_scale,
        scorer=scorer,
        entity_vectors=entity_vectors,
        outside_weight=outside_weight,
    )


class XLMRNER(EntityPipe):
    """Named entity recognition as token classification over IOB2 tags.

    Entities go to `doc.ents` (through `doc.set_ents`) and to
    `doc.spans[spans_key]`, whose `attrs["scores"]` holds one confidence per
    entity, in order: the mean probability of the entity's decoded tags.
    With `entity_vectors`, each entity's embedding is `span._.entity_vector`
    (see `spacy_xlmr_ner.vectors`).
    """

    def __init__(
        self,
        vocab: Vocab,
        model: Model[List[Doc], List[Floats2d]],
        name: str = "xlmr_ner",
        *,
        spans_key: str = DEFAULT_SPANS_KEY,
        head_lr_scale: float = 10.0,
        scorer: Optional[Callable] = None,
        entity_vectors: bool = True,
        outside_weight: float = 1.0,
    ) -> None:
        """Initialize the component.

        vocab (Vocab): The shared vocabulary.
        model (Model[List[Doc], List[Floats2d]]): The token classifier.
        name (str): The component instance name, used to add entries to the
            losses during training.
        spans_key (str): Key in `doc.spans` for the entities and their scores.
        head_lr_scale (float): Learning rate of the output layer, as a multiple
            of the optimizer's.
        scorer (Optional[Callable]): The scoring method.
        entity_vectors (bool): Whether to set `span._.entity_vector` on the
            predicted entities.
        """
        if not 0 < outside_weight <= 1:
            raise ValueError(f"[{name}] outside_weight must be in (0, 1], not {outside_weight}")
        super().__init__(
            vocab, model, name, head_lr_scale=head_lr_scale, scorer=scorer, entity_vectors=entity_vectors,
            spans_key=spans_key, outside_weight=outside_weight,
        )

    @property
    def tags(self) -> List[str]:
        """RETURNS (List[str]): The IOB2 tags the model predicts, in order."""
        return iob_labels(self.labels)

    def predict(self, docs: Iterable[Doc]) -> List[Floats2d]:
        """Compute tag probabilities for a batch of documents, without
        modifying them.

        docs (Iterable[Doc]): The documents to predict.
        RETURNS (List[Floats2d]): Per doc, probabilities (n_tokens, n_tags).
        """
        docs = list(docs)
        if not any(len(doc) for doc in docs):
            n_tags = len(self.tags)
            return [self.model.ops.alloc2f(len(doc), n_tags) for doc in docs]
        return self.model.predict(docs)

    def set_annotations(self, docs: Iterable[Doc], scores: List[Floats2d]) -> None:
        """Decode the best valid IOB2 sequence of each doc and set its entities.

        docs (Iterable[Doc]): The documents to modify.
        scores (List[Floats2d]): The probabilities, as returned by `predict`.
        """
        docs = list(docs)
        tags = self.tags
        start, allowed = allowed_transitions(tags)
        probs = [self.model.ops.to_numpy(s) for s in scores]
        weight = self.cfg.get("outside_weight", 1.0)
        if weight != 1.0:
            probs = [unweight_outside(p, weight) for p in probs]
        paths = viterbi_decode(probs, start, allowed)
        key = self.cfg["spans_key"]
        for doc, path, doc_probs in zip(docs, paths, probs):
            spans, confidences = tags_to_spans(doc, path, doc_probs, tags)
            doc.set_ents(spans, default="outside")
            doc.spans[key] = SpanGroup(
                doc, name=key, spans=spans, attrs={"scores": confidences}
            )
            if self.entity_vectors:
                set_entity_vectors(doc, spans)

    def model_input(self, docs: List[Doc]) -> Optional[List[Doc]]:
        """docs (List[Doc]): A batch. RETURNS (Optional[List[Doc]]): The docs,
        or None when all are empty."""
        return docs if any(len(doc) for doc in docs) else None

    def get_loss(
        self, examples: Iterable[Example], scores: List[Floats2d]
    ) -> Tuple[float, List[Floats2d]]:
        """Cross-entropy against the gold tags, averaged over the tokens whose
        gold tag is known (as PyTorch's cross-entropy with an ignore index).

        Tokens that do not align to the gold tokenization, or whose gold
        annotation is missing, are left out, not counted as "O". So are
        entities whose label the component does not predict.

        examples (Iterable[Example]): The batch of examples.
        scores (List[Floats2d]): The model's probabilities.
        RETURNS (Tuple[float, List[Floats2d]]): The loss and its gradient.
        """
        validate_examples(examples, "XLMRNER.get_loss")
        tag_ids = {tag: i for i, tag in enumerate(self.tags)}
        truths = [
            tag_ids.get(tag, -1)
            for eg in examples
            for tag in biluo_to_iob(eg.get_aligned_ner())
        ]
        truths = numpy.asarray(truths, dtype="int32")
        weight = self.cfg.get("outside_weight", 1.0)
        weights = numpy.where(truths == tag_ids[OUTSIDE], weight, 1.0).astype("f") if weight != 1.0 else None
        return masked_cross_entropy(self.model.ops, scores, truths, weights)

    def initialize_model(self, get_examples: Callable[[], Iterable[Example]]) -> None:
        """Build the model's layers once the labels are known.

        get_examples (Callable[[], Iterable[Example]]): The training examples.
        """
        n_tags = len(self.tags)
        doc_sample = [eg.reference for eg in islice(get_examples(), 10)]
        label_sample = [numpy.zeros((len(doc), n_tags), dtype="f") for doc in doc_sample]
        self.model.initialize(X=doc_sample, Y=[self.model.ops.asarray2f(y) for y in label_sample])

