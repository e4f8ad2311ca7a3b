"""The span-classification head: token vectors and candidate spans → class
probabilities ("no entity" and the labels) for every candidate; v2 adds a
tagger, IOB2 tag probabilities for every token."""
from typing import Callable, List, Optional, Tuple

import numpy
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Dropout, Linear, Model, Softmax_v2, chain
from thinc.types import Floats2d, Ints2d

from .token_classifier import normal_init

SpanInput = Tuple[List[Doc], List[Ints2d]]


@registry.architectures("spacy-xlmr-ner.SpanClassifier.v1")
def build_span_classifier(
    tok2vec: Model[List[Doc], List[Floats2d]],
    hidden_width: int = 256,
    nO: Optional[int] = None,
    dropout: float = 0.1,
    init_scale: float = 0.02,
) -> Model[SpanInput, List[Floats2d]]:
    """Build a span classifier over the token vectors of one encoder pass.

    Each token vector is projected once into a start and an end vector of
    width `hidden_width`. A span from token i to token j (inclusive) is
    represented by start[i] + end[j] + width_embedding[j - i], through a GELU,
    and a softmax layer scores it. The cost per candidate is a sum of three
    rows and the output layer, so scoring every span up to a few tokens long
    costs little next to the encoder.

    The projection, the width embedding and the output layer start from
    small random weights, as in `spacy-xlmr-ner.TokenClassifier.v1`: a zero
    output layer lets the encoder collapse early in fine-tuning.

    tok2vec (Model[List[Doc], List[Floats2d]]): Token vectors, usually a
        `spacy-xlmr-ner.TransformerListener.v1`.
    hidden_width (int): Width of the span representation.
    nO (Optional[int]): Number of classes ("no entity" and the labels);
        inferred at initialization.
    dropout (float): Dropout rate applied to the token vectors.
    init_scale (float): Standard deviation of the normal distribution the
        weights are drawn from.
    RETURNS (Model[Tuple[List[Doc], List[Ints2d]], List[Floats2d]]): Given
        docs and, per doc, candidate spans as (start, end) token rows (end
        exclusive), per doc class probabilities (n_candidates, nO). The width
        of the longest candidate is the dim "nW", which the component sets.
    """
    init = normal_init(init_scale)
    project, output = _span_head(hidden_width, nO, dropout, init)
    return Model(
        "spacy-xlmr-ner.SpanClassifier",
        _forward,
        init=_init,
        layers=[tok2vec, project, output],
        refs={"tok2vec": tok2vec, "output_layer": output},
        dims={"nO": nO, "nH": hidden_width, "nW": None},
        params={"W_width": None},
        attrs={"init_scale": init_scale},
    )


@registry.architectures("spacy-xlmr-ner.SpanClassifier.v2")
def build_span_tagger_classifier(
    tok2vec: Model[List[Doc], List[Floats2d]],
    hidden_width: int = 256,
    nO: Optional[int] = None,
    dropout: float = 0.1,
    init_scale: float = 0.02,
) -> Model[SpanInput, Tuple[List[Floats2d], List[Floats2d]]]:
    """Build a span classifier with a boundary tagger: the span head of
    `spacy-xlmr-ner.SpanClassifier.v1`, and beside it a softmax layer that
    tags every token with IOB2 tags ("O", then "B-" and "I-" of each label),
    over the same token vectors.

    The tagger is trained beside the span head on the same encoder pass. Its
    tag probabilities give each candidate a second score, the probability
    that the tags of the candidate's tokens spell it as an entity, which
    `xlmr_span_ner` combines with the span head's to choose `doc.ents`.
    Token-level loss also trains the shared encoder faster than the span
    loss alone. Every output layer starts from small random weights.

    tok2vec (Model[List[Doc], List[Floats2d]]): Token vectors, usually a
        `spacy-xlmr-ner.TransformerListener.v1`.
    hidden_width (int): Width of the span representation.
    nO (Optional[int]): Number of span classes ("no entity" and the labels);
        inferred at initialization. The tagger has 2 * nO - 1 tags.
    dropout (float): Dropout rate applied to the token vectors.
    init_scale (float): Standard deviation of the normal distribution the
        weights are drawn from.
    RETURNS (Model[Tuple[List[Doc], List[Ints2d]], Tuple[List[Floats2d],
        List[Floats2d]]]): Given docs and their candidates, per doc the
        candidates' class probabilities (n_candidates, nO) and the tokens'
        tag probabilities (n_tokens, 2 * nO - 1).
    """
    init = normal_init(init_scale)
    project, output = _span_head(hidden_width, nO, dropout, init)
    tag_output = Softmax_v2(init_W=init)
    tagger = chain(Dropout(dropout), tag_output)
    return Model(
        "spacy-xlmr-ner.SpanClassifier.v2",
        _forward_with_tags,
        init=_init,
        layers=[tok2vec, project, output, tagger],
        refs={"tok2vec": tok2vec, "output_layer": output, "tag_output": tag_output},
        dims={"nO": nO, "nH": hidden_width, "nW": None},
        params={"W_width": None},
        attrs={"init_scale": init_scale},
    )


def _span_head(hidden_width: int, nO: Optional[int], dropout: float, init: Callable) -> Tuple[Model, Model]:
    """The span head's layers: the start/end projection of the token vectors
    and the output softmax over the span representation."""
    project = chain(Dropout(dropout), Linear(nO=2 * hidden_width, init_W=init))
    output = Softmax_v2(nO=nO, nI=hidden_width, init_W=init)
    return project, output


def _forward_with_tags(
    model: Model, inputs: SpanInput, is_train: bool
) -> Tuple[Tuple[List[Floats2d], List[Floats2d]], Callable]:
    docs, candidates = inputs
    tok2vec, tagger = model.layers[0], model.layers[3]
    ops = model.ops
    vectors, backprop_tok2vec = tok2vec(docs, is_train)
    lengths = [len(v) for v in vectors]
    span_probs, backprop_spans = _score_spans(model, vectors, candidates, is_train)
    n_tags = model.get_ref("tag_output").get_dim("nO")
    if sum(lengths):
        T, backprop_tagger = tagger(ops.flatten(vectors), is_train)
        tag_probs = ops.unflatten(T, lengths)
    else:
        tag_probs, backprop_tagger = [ops.alloc2f(0, n_tags) for _ in docs], None

    def backprop(d_outputs: Tuple[List[Floats2d], List[Floats2d]]) -> List[Doc]:
        d_spans, d_tags = d_outputs
        d_X = backprop_spans(d_spans)
        if backprop_tagger is not None:
            d_X_tags = backprop_tagger(ops.flatten([d for d, n in zip(d_tags, lengths) if n]))
            d_X = d_X_tags if d_X is None else d_X + d_X_tags
        return backprop_tok2vec(_per_doc(model, d_X, vectors, lengths))

    return (span_probs, tag_probs), backprop


def _forward(
    model: Model[SpanInput, List[Floats2d]], inputs: SpanInput, is_train: bool
) -> Tuple[List[Floats2d], Callable]:
    docs, candidates = inputs
    tok2vec = model.layers[0]
    vectors, backprop_tok2vec = tok2vec(docs, is_train)
    lengths = [len(v) for v in vectors]
    outputs, backprop_spans = _score_spans(model, vectors, candidates, is_train)

    def backprop(d_outputs: List[Floats2d]) -> List[Doc]:
        return backprop_tok2vec(_per_doc(model, backprop_spans(d_outputs), vectors, lengths))

    return outputs, backprop


def _score_spans(
    model: Model, vectors: List[Floats2d], candidates: List[Ints2d], is_train: bool
) -> Tuple[List[Floats2d], Callable[[List[Floats2d]], Optional[Floats2d]]]:
    """Class probabilities of the candidates, from the flattened token
    vectors; the backprop callback gives the gradient of the flattened
    vectors, or None when there were no candidates."""
    project, output = model.layers[1], model.layers[2]
    ops = model.ops
    nO = model.get_dim("nO")
    nH = model.get_dim("nH")
    n_candidates = [len(c) for c in candidates]
    if not sum(n_candidates):
        return [ops.alloc2f(0, nO) for _ in candidates], lambda d_outputs: None
    # `flatten` leaves out the zero-width arrays the transformer gives empty
    # docs; they have no candidates either.
    lengths = [len(v) for v in vectors]
    offsets = numpy.cumsum([0] + lengths[:-1])
    X = ops.flatten(vectors)
    P, backprop_project = project(X, is_train)
    rows = numpy.concatenate([c.reshape(-1, 2) + off for c, off in zip(candidates, offsets)])
    first = ops.asarray1i(rows[:, 0])
    last = ops.asarray1i(rows[:, 1] - 1)
    width = ops.asarray1i(rows[:, 1] - rows[:, 0] - 1)
    if int(width.max()) >= model.get_dim("nW"):
        raise ValueError(
            f"[SpanClassifier] A candidate of {int(width.max()) + 1} tokens: the model "
            f"was built for at most {model.get_dim('nW')}"
        )
    W_width = model.get_param("W_width")
    H = P[first, :nH] + P[last, nH:] + W_width[width]
    A = ops.gelu(H)
    probs, backprop_output = output(A, is_train)
    outputs = ops.unflatten(probs, n_candidates)

    def backprop(d_outputs: List[Floats2d]) -> Floats2d:
        d_A = backprop_output(ops.flatten(d_outputs))
        d_H = ops.backprop_gelu(d_A, H)
        d_start = ops.alloc2f(len(X), nH)
        d_end = ops.alloc2f(len(X), nH)
        ops.scatter_add(d_start, first, d_H)
        ops.scatter_add(d_end, last, d_H)
        d_W_width = ops.alloc2f(*W_width.shape)
        ops.scatter_add(d_W_width, width, d_H)
        model.inc_grad("W_width", d_W_width)
        return backprop_project(ops.xp.concatenate([d_start, d_end], axis=1))

    return outputs, backprop


def _per_doc(model: Model, d_X: Optional[Floats2d], vectors: List[Floats2d], lengths: List[int]) -> List[Floats2d]:
    """The flattened vectors' gradient split per doc; zeros where there is
    none, and the (zero-width) shape of their vectors for empty docs."""
    ops = model.ops
    if d_X is None:
        return [ops.alloc2f(*v.shape) for v in vectors]
    d_vectors = ops.unflatten(d_X, lengths)
    return [d if len(v) else ops.alloc2f(*v.shape) for d, v in zip(d_vectors, vectors)]


def _init(
    model: Model,
    X: Optional[SpanInput] = None,
    Y: Optional[List[Floats2d]] = None,
) -> None:
    tok2vec, project, output = model.layers[:3]
    if Y is not None and not model.has_dim("nO"):
        model.set_dim("nO", Y[0].shape[1])
    if model.has_dim("nO"):
        output.set_dim("nO", model.get_dim("nO"), force=True)
        if model.has_ref("tag_output"):
            model.get_ref("tag_output").set_dim("nO", 2 * model.get_dim("nO") - 1, force=True)
    if not model.has_dim("nW"):
        raise ValueError("[SpanClassifier] Set the dim 'nW' (the longest candidate) before initializing")
    init = normal_init(model.attrs["init_scale"])
    model.set_param("W_width", init(model.ops, (model.get_dim("nW"), model.get_dim("nH"))))
    output.initialize()
    if X is None:
        return
    docs, _ = X
    tok2vec.initialize(X=docs)
    vectors = [v for v in tok2vec.predict(docs) if len(v)]
    heads = model.layers[1:2] + model.layers[3:]
    for head in heads:
        if vectors:
            head.initialize(X=model.ops.xp.concatenate(vectors))
        elif tok2vec.has_dim("nO"):
            head.layers[-1].set_dim("nI", tok2vec.get_dim("nO"))
            head.initialize()
