"""The `xlmr_ner` component: token classification over IOB2 tags on top of a
transformer, with constrained decoding into `doc.ents`."""
from itertools import islice
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc, SpanGroup
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.training.iob_utils import biluo_to_iob
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer, set_dropout_rate
from thinc.types import Floats2d

from ..decoding import allowed_transitions, iob_labels, tags_to_spans, viterbi_decode

DEFAULT_SPANS_KEY = "xlmr_ner"

default_model_config = """
[model]
@architectures = "spacy-xlmr-ner.TokenClassifier.v1"
nO = null
dropout = 0.1
init_scale = 0.02

[model.tok2vec]
@architectures = "spacy-xlmr-ner.TransformerListener.v1"
grad_factor = 1.0
upstream = "*"

[model.tok2vec.pooling]
@layers = "spacy-xlmr-ner.reduce_first.v1"
"""
DEFAULT_MODEL = Config().from_str(default_model_config)["model"]


@Language.factory(
    "xlmr_ner",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type", "doc.spans"],
    default_config={
        "model": DEFAULT_MODEL,
        "spans_key": DEFAULT_SPANS_KEY,
        "head_lr_scale": 10.0,
        "scorer": {"@scorers": "spacy.ner_scorer.v1"},
    },
    default_score_weights={
        "ents_f": 1.0,
        "ents_p": 0.0,
        "ents_r": 0.0,
        "ents_per_type": None,
    },
)
def make_xlmr_ner(
    nlp: Language,
    name: str,
    model: Model[List[Doc], List[Floats2d]],
    spans_key: str,
    head_lr_scale: float,
    scorer: Optional[Callable],
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
    """
    return XLMRNER(nlp.vocab, model, name, spans_key=spans_key, head_lr_scale=head_lr_scale, scorer=scorer)


class XLMRNER(TrainablePipe):
    """Named entity recognition as token classification over IOB2 tags.

    Entities go to `doc.ents` (through `doc.set_ents`) and to
    `doc.spans[spans_key]`, whose `attrs["scores"]` holds one confidence per
    entity, in order: the mean probability of the entity's decoded tags.
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
        """
        if head_lr_scale <= 0:
            raise ValueError(f"[xlmr_ner] head_lr_scale must be positive, not {head_lr_scale}")
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.cfg: Dict = {"labels": [], "spans_key": spans_key, "head_lr_scale": head_lr_scale}

    @property
    def labels(self) -> Tuple[str, ...]:
        """RETURNS (Tuple[str]): The entity labels."""
        return tuple(self.cfg["labels"])

    @property
    def label_data(self) -> List[str]:
        """RETURNS (List[str]): The entity labels, to pass to `initialize`."""
        return list(self.labels)

    @property
    def tags(self) -> List[str]:
        """RETURNS (List[str]): The IOB2 tags the model predicts, in order."""
        return iob_labels(self.labels)

    def add_label(self, label: str) -> int:
        """Add an entity label.

        label (str): The label to add.
        RETURNS (int): 0 if the label is already present, otherwise 1.
        """
        if not isinstance(label, str) or not label.strip():
            raise ValueError(f"[xlmr_ner] Invalid entity label: {label!r}")
        if label in self.labels:
            return 0
        if self.model.has_dim("nO"):
            raise ValueError(
                f"[xlmr_ner] Cannot add label {label!r}: the model is already "
                f"initialized for labels {list(self.labels)}. Give every label "
                "before `initialize`."
            )
        self.cfg["labels"].append(label)
        self.vocab.strings.add(label)
        return 1

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
        paths = viterbi_decode(probs, start, allowed)
        key = self.cfg["spans_key"]
        for doc, path, doc_probs in zip(docs, paths, probs):
            spans, confidences = tags_to_spans(doc, path, doc_probs, tags)
            doc.set_ents(spans, default="outside")
            doc.spans[key] = SpanGroup(
                doc, name=key, spans=spans, attrs={"scores": confidences}
            )

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Callable] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """Learn from a batch of examples: predict, compute the loss against
        the aligned gold entities and backpropagate.

        examples (Iterable[Example]): A batch of examples.
        drop (float): The dropout rate.
        sgd (Optional[Callable]): An optimizer; if given, the weights are
            updated.
        losses (Optional[Dict[str, float]]): Losses to add this component's to.
        RETURNS (Dict[str, float]): The updated losses.
        """
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, "XLMRNER.update")
        if not any(len(eg.predicted) for eg in examples):
            return losses
        set_dropout_rate(self.model, drop)
        scores, backprop = self.model.begin_update([eg.predicted for eg in examples])
        loss, d_scores = self.get_loss(examples, scores)
        backprop(d_scores)
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    def finish_update(self, sgd: Optimizer) -> None:
        """Update the component's weights (the output layer; the encoder is the
        transformer component's) with `head_lr_scale` times the learning rate.

        sgd (Optimizer): The optimizer.
        """
        scale = self.cfg.get("head_lr_scale", 1.0)
        for node in self.model.walk():
            for name in node.param_names:
                if node.has_grad(name):
                    param, grad = sgd((node.id, name), node.get_param(name), node.get_grad(name), lr_scale=scale)
                    node.set_param(name, param)

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
        ops = self.model.ops
        filled = [s for s in scores if len(s)]
        guesses = ops.xp.concatenate(filled) if filled else ops.alloc2f(0, len(tag_ids))
        truths = ops.asarray1i(truths)
        known = ops.xp.nonzero(truths >= 0)[0]
        d_guesses = ops.alloc2f(*guesses.shape)
        loss = 0.0
        if len(known):
            gold = truths[known]
            d_guesses[known] = guesses[known]
            d_guesses[known, gold] -= 1.0
            d_guesses /= len(known)
            loss = float(-ops.xp.log(guesses[known, gold] + 1e-12).mean())
        d_scores = []
        start = 0
        for s in scores:
            d_scores.append(d_guesses[start : start + len(s)])
            start += len(s)
        return loss, d_scores

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Sequence[str]] = None,
    ) -> None:
        """Initialize the component: take the labels (given, or every entity
        label in the training examples, sorted) and build the model's layers.

        get_examples (Callable[[], Iterable[Example]]): The training examples.
        nlp (Optional[Language]): The current nlp object.
        labels (Optional[Sequence[str]]): Entity labels to use instead of the
            ones found in the examples.
        """
        validate_get_examples(get_examples, "XLMRNER.initialize")
        if labels is not None:
            for label in labels:
                self.add_label(label)
        else:
            found = set()
            for eg in get_examples():
                found.update(ent.label_ for ent in eg.reference.ents)
            for label in sorted(found):
                self.add_label(label)
        if not self.labels:
            raise ValueError(
                "[xlmr_ner] No entity labels: the training examples have no "
                "entities and no labels were given to `initialize`."
            )
        n_tags = len(self.tags)
        doc_sample = [eg.reference for eg in islice(get_examples(), 10)]
        label_sample = [numpy.zeros((len(doc), n_tags), dtype="f") for doc in doc_sample]
        self.model.initialize(X=doc_sample, Y=[self.model.ops.asarray2f(y) for y in label_sample])
