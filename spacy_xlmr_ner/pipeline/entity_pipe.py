"""What the NER components share: entity labels, the update step with a
scaled head learning rate, the masked cross-entropy loss and entity vectors."""
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc
from spacy.language import Language
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Model, Optimizer, set_dropout_rate
from thinc.types import Floats2d

from .._compat import finish_update_params
from ..vectors import install_extension

# The encoder's token vectors, as both components' default models read them.
LISTENER_CONFIG = """
[model.tok2vec]
@architectures = "spacy-xlmr-ner.TransformerListener.v1"
grad_factor = 1.0
upstream = "*"

[model.tok2vec.pooling]
@layers = "spacy-xlmr-ner.reduce_first.v1"
"""
ASSIGNS = ["doc.ents", "token.ent_iob", "token.ent_type", "doc.spans"]
SCORE_WEIGHTS = {"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None}
# The factories of the NER components built on `EntityPipe`.
NER_FACTORIES = ("xlmr_ner", "xlmr_span_ner")
# Factory defaults both components have.
SHARED_DEFAULTS = {"head_lr_scale": 10.0, "entity_vectors": True, "scorer": {"@scorers": "spacy.ner_scorer.v1"}}


class EntityPipe(TrainablePipe):
    """Base class of `xlmr_ner` and `xlmr_span_ner`.

    A subclass defines how a batch of docs becomes the model's input
    (`model_input`), how the model's output becomes the scores that
    `get_loss` and `set_annotations` take (`scores_of`), `get_loss`,
    `set_annotations` and `initialize`.
    """

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str,
        *,
        head_lr_scale: float,
        scorer: Optional[Callable],
        entity_vectors: bool,
        **cfg: Any,
    ) -> None:
        """Initialize the component.

        vocab (Vocab): The shared vocabulary.
        model (Model): The classifier.
        name (str): The component instance name, used to add entries to the
            losses during training.
        head_lr_scale (float): Learning rate of the head, as a multiple of the
            optimizer's (which the encoder gets).
        scorer (Optional[Callable]): The scoring method.
        entity_vectors (bool): Whether to set `span._.entity_vector` on the
            predicted entities.
        **cfg: The subclass's settings, kept in `self.cfg`.
        """
        if head_lr_scale <= 0:
            raise ValueError(f"[{name}] head_lr_scale must be positive, not {head_lr_scale}")
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        # Not in self.cfg: a setting of the loaded pipeline, not of its weights.
        self.entity_vectors = entity_vectors
        if entity_vectors:
            install_extension()
        self.cfg: Dict[str, Any] = {"labels": [], **cfg, "head_lr_scale": head_lr_scale}

    @property
    def labels(self) -> Tuple[str, ...]:
        """RETURNS (Tuple[str]): The entity labels."""
        return tuple(self.cfg["labels"])

    @property
    def label_data(self) -> List[str]:
        """RETURNS (List[str]): The entity labels, to pass to `initialize`."""
        return list(self.labels)

    def add_label(self, label: str) -> int:
        """Add an entity label.

        label (str): The label to add.
        RETURNS (int): 0 if the label is already present, otherwise 1.
        """
        if not isinstance(label, str) or not label.strip():
            raise ValueError(f"[{self.name}] Invalid entity label: {label!r}")
        if label in self.labels:
            return 0
        if self.model.has_dim("nO"):
            raise ValueError(
                f"[{self.name}] Cannot add label {label!r}: the model is already "
                f"initialized for labels {list(self.labels)}. Give every label "
                "before `initialize`."
            )
        self.cfg["labels"].append(label)
        self.vocab.strings.add(label)
        return 1

    def add_labels(self, labels: Optional[Sequence[str]], found: Iterable[str]) -> None:
        """Add the labels given to `initialize`, or else the ones found in the
        training examples, sorted.

        labels (Optional[Sequence[str]]): Labels given to `initialize`.
        found (Iterable[str]): Labels of the training examples' entities.
        """
        for label in labels if labels is not None else sorted(set(found)):
            self.add_label(label)
        if not self.labels:
            raise ValueError(
                f"[{self.name}] No entity labels: the training examples have no "
                "entities and no labels were given to `initialize`."
            )

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
        validate_get_examples(get_examples, f"{type(self).__name__}.initialize")
        self.add_labels(labels, self.gold_labels(get_examples))
        self.initialize_model(get_examples)

    def gold_labels(self, get_examples: Callable[[], Iterable[Example]]) -> Iterable[str]:
        """get_examples (Callable[[], Iterable[Example]]): The training
        examples. RETURNS (Iterable[str]): The label of every gold entity."""
        return (ent.label_ for eg in get_examples() for ent in eg.reference.ents)

    def initialize_model(self, get_examples: Callable[[], Iterable[Example]]) -> None:
        """Build the model's layers once the labels are known.

        get_examples (Callable[[], Iterable[Example]]): The training examples.
        """
        raise NotImplementedError

    def model_input(self, docs: List[Doc]) -> Optional[Any]:
        """docs (List[Doc]): A batch. RETURNS (Optional[Any]): The model's
        input, or None when the batch gives the model nothing to score."""
        raise NotImplementedError

    def scores_of(self, X: Any, Y: Any) -> Any:
        """X (Any): The model's input. Y (Any): Its output. RETURNS (Any):
        The scores `get_loss` and `set_annotations` take."""
        return Y

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
        validate_examples(examples, f"{type(self).__name__}.update")
        X = self.model_input([eg.predicted for eg in examples])
        if X is None:
            return losses
        set_dropout_rate(self.model, drop)
        Y, backprop = self.model.begin_update(X)
        loss, d_Y = self.get_loss(examples, self.scores_of(X, Y))
        backprop(d_Y)
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses

    def finish_update(self, sgd: Optimizer) -> None:
        """Update the component's weights (the head; the encoder is the
        transformer component's) with `head_lr_scale` times the learning rate.

        sgd (Optimizer): The optimizer.
        """
        finish_update_params(self.model, sgd, lr_scale=self.cfg.get("head_lr_scale", 1.0))


def masked_cross_entropy(
    ops, probs: List[Floats2d], truths: numpy.ndarray, weights: Optional[numpy.ndarray] = None
) -> Tuple[float, List[Floats2d]]:
    """Cross-entropy of probabilities against gold classes, averaged over the
    rows whose class is known (as PyTorch's cross-entropy with an ignore
    index), each row optionally weighted.

    ops (Ops): The model's ops.
    probs (List[Floats2d]): Per doc, probabilities (n_rows, n_classes).
    truths (numpy.ndarray): The gold class of every row of every doc, in
        order; -1 where it is unknown.
    weights (Optional[numpy.ndarray]): A weight per row, in the same order;
        the loss is the weighted mean over the known rows. None weighs all
        rows alike.
    RETURNS (Tuple[float, List[Floats2d]]): The loss and, per doc, its
        gradient with respect to the softmax's input.
    """
    n_classes = probs[0].shape[1] if probs else 0
    guesses = ops.flatten(probs) if probs else ops.alloc2f(0, n_classes)
    truths = ops.asarray1i(truths)
    known = ops.xp.nonzero(truths >= 0)[0]
    d_guesses = ops.alloc2f(*guesses.shape)
    loss = 0.0
    if len(known):
        gold = truths[known]
        d_guesses[known] = guesses[known]
        d_guesses[known, gold] -= 1.0
        if weights is None:
            # The plain mean, not weights of 1/n: the same result in exact
            # arithmetic, but not in floats, and training follows the floats
            # (xlmr_ner's benchmark F1 moved by a point when this was weighted).
            d_guesses /= len(known)
            loss = float(-ops.xp.log(guesses[known, gold] + 1e-12).mean())
        else:
            w = ops.asarray1f(weights)[known]
            w = w / w.sum()
            d_guesses[known] *= w[:, None]
            loss = float(-(w * ops.xp.log(guesses[known, gold] + 1e-12)).sum())
    return loss, ops.unflatten(d_guesses, [len(p) for p in probs])


def find_entity_pipe(nlp: Language) -> Optional[EntityPipe]:
    """nlp (Language): A pipeline.
    RETURNS (Optional[EntityPipe]): Its last `xlmr_ner` or `xlmr_span_ner`
        component, or None.
    """
    found = [proc for _, proc in nlp.pipeline if isinstance(proc, EntityPipe)]
    return found[-1] if found else None


def entity_component_name(config: Dict[str, Any]) -> Optional[str]:
    """config (Dict[str, Any]): A pipeline's config.
    RETURNS (Optional[str]): The name of its last component made by one of
        `NER_FACTORIES`, or None.
    """
    names = [name for name, comp in (config.get("components") or {}).items() if comp.get("factory") in NER_FACTORIES]
    return names[-1] if names else None
