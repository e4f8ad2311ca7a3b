"""The token-classification head: token vectors → IOB tag probabilities."""
from typing import Callable, List, Optional, Tuple

import numpy
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Dropout, Model, Softmax_v2, chain
from thinc.types import Floats2d


@registry.architectures("spacy-xlmr-ner.TokenClassifier.v1")
def build_token_classifier(
    tok2vec: Model[List[Doc], List[Floats2d]],
    nO: Optional[int] = None,
    dropout: float = 0.1,
    init_scale: float = 0.02,
) -> Model[List[Doc], List[Floats2d]]:
    """Build a token classifier: a linear softmax layer over token vectors.

    The output layer starts from small random weights, not from zeros as
    spaCy's output layers do: with a zero head the encoder gets no useful
    gradient in the first steps while Adam still takes full-size steps, and
    the encoder's features collapse (predictions end up as one or two tags).

    tok2vec (Model[List[Doc], List[Floats2d]]): Token vectors, usually a
        `spacy-xlmr-ner.TransformerListener.v1`.
    nO (Optional[int]): Number of IOB tags; inferred at initialization.
    dropout (float): Dropout rate applied to the token vectors.
    init_scale (float): Standard deviation of the normal distribution the
        output weights are drawn from (0.02, as BERT and XLM-R use).
    RETURNS (Model[List[Doc], List[Floats2d]]): Per doc, tag probabilities of
        shape (n_tokens, nO).
    """
    output = Softmax_v2(nO=nO, init_W=normal_init(init_scale))
    head = chain(Dropout(dropout), output)
    return Model(
        "spacy-xlmr-ner.TokenClassifier",
        _forward,
        init=_init,
        layers=[tok2vec, head],
        refs={"tok2vec": tok2vec, "output_layer": output},
        dims={"nO": nO},
    )


def normal_init(std: float) -> Callable:
    """Draw weights from N(0, std) instead of spaCy's zeros, for output layers
    and embeddings of heads on a fine-tuned encoder.

    std (float): The standard deviation.
    RETURNS (Callable): An initializer taking (ops, shape).
    """

    def init(ops, shape):
        return ops.asarray2f(numpy.random.normal(0.0, std, shape).astype("float32"))

    return init


def _forward(
    model: Model[List[Doc], List[Floats2d]], docs: List[Doc], is_train: bool
) -> Tuple[List[Floats2d], Callable]:
    tok2vec, head = model.layers
    n_tags = model.get_dim("nO")
    vectors, backprop_tok2vec = tok2vec(docs, is_train)
    lengths = [len(v) for v in vectors]
    # `flatten` leaves out the zero-width arrays the transformer gives empty
    # docs, which could not be concatenated with the others.
    X = model.ops.flatten(vectors)
    if len(X):
        scores, backprop_head = head(X, is_train)
    else:
        scores, backprop_head = model.ops.alloc2f(0, n_tags), None
    outputs = model.ops.unflatten(scores, lengths)

    def backprop(d_outputs: List[Floats2d]) -> List[Doc]:
        if backprop_head is None:
            d_X = model.ops.alloc2f(0, 0)
        else:
            d_X = backprop_head(model.ops.flatten(d_outputs))
        return backprop_tok2vec(model.ops.unflatten(d_X, lengths))

    return outputs, backprop


def _init(
    model: Model[List[Doc], List[Floats2d]],
    X: Optional[List[Doc]] = None,
    Y: Optional[List[Floats2d]] = None,
) -> None:
    tok2vec, head = model.layers
    if Y is not None and not model.has_dim("nO"):
        model.set_dim("nO", Y[0].shape[1])
    output = model.get_ref("output_layer")
    if model.has_dim("nO"):
        output.set_dim("nO", model.get_dim("nO"), force=True)
    if X is None:
        return
    tok2vec.initialize(X=X)
    vectors = [v for v in tok2vec.predict(X) if len(v)]
    if vectors:
        head.initialize(X=model.ops.xp.concatenate(vectors))
    elif tok2vec.has_dim("nO"):
        output.set_dim("nI", tok2vec.get_dim("nO"))
        head.initialize()
