"""The span-classification head: token vectors and candidate spans → class
probabilities ("no entity" and the labels) for every candidate."""
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
    project = chain(Dropout(dropout), Linear(nO=2 * hidden_width, init_W=init))
    output = Softmax_v2(nO=nO, nI=hidden_width, init_W=init)
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


def _forward(
    model: Model[SpanInput, List[Floats2d]], inputs: SpanInput, is_train: bool
) -> Tuple[List[Floats2d], Callable]:
    docs, candidates = inputs
    tok2vec, project, output = model.layers
    ops = model.ops
    nO = model.get_dim("nO")
    nH = model.get_dim("nH")
    vectors, backprop_tok2vec = tok2vec(docs, is_train)
    n_candidates = [len(c) for c in candidates]
    if not sum(n_candidates):
        outputs = [ops.alloc2f(0, nO) for _ in docs]

        def backprop_nothing(d_outputs: List[Floats2d]) -> List[Doc]:
            return backprop_tok2vec([ops.alloc2f(*v.shape) for v in vectors])

        return outputs, backprop_nothing
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

    def backprop(d_outputs: List[Floats2d]) -> List[Doc]:
        d_A = backprop_output(ops.flatten(d_outputs))
        d_H = ops.backprop_gelu(d_A, H)
        d_start = ops.alloc2f(len(X), nH)
        d_end = ops.alloc2f(len(X), nH)
        ops.scatter_add(d_start, first, d_H)
        ops.scatter_add(d_end, last, d_H)
        d_W_width = ops.alloc2f(*W_width.shape)
        ops.scatter_add(d_W_width, width, d_H)
        model.inc_grad("W_width", d_W_width)
        d_X = backprop_project(ops.xp.concatenate([d_start, d_end], axis=1))
        d_vectors = ops.unflatten(d_X, lengths)
        # Empty docs get a gradient of their vectors' own (zero-width) shape.
        return backprop_tok2vec([d if len(v) else ops.alloc2f(*v.shape) for d, v in zip(d_vectors, vectors)])

    return outputs, backprop


def _init(
    model: Model[SpanInput, List[Floats2d]],
    X: Optional[SpanInput] = None,
    Y: Optional[List[Floats2d]] = None,
) -> None:
    tok2vec, project, output = model.layers
    if Y is not None and not model.has_dim("nO"):
        model.set_dim("nO", Y[0].shape[1])
    if model.has_dim("nO"):
        output.set_dim("nO", model.get_dim("nO"), force=True)
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
    if vectors:
        project.initialize(X=model.ops.xp.concatenate(vectors))
    elif tok2vec.has_dim("nO"):
        project.layers[-1].set_dim("nI", tok2vec.get_dim("nO"))
        project.initialize()
