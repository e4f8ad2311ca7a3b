"""Pooling of word-piece vectors into token vectors."""
from typing import Callable, Tuple

from thinc.api import Model, registry
from thinc.types import Floats2d, Ragged


@registry.layers("spacy-xlmr-ner.reduce_first.v1")
def reduce_first() -> Model[Ragged, Floats2d]:
    """Represent each token by its first word piece, as the token
    classification recipes of BERT and XLM-R do.

    Unlike thinc's `reduce_first`, a token with no word piece at all (a
    whitespace token, or characters the encoder's tokenizer drops) gets a zero
    vector instead of an error.
    """
    return Model("spacy-xlmr-ner.reduce_first", _forward)


def _forward(
    model: Model[Ragged, Floats2d], Xr: Ragged, is_train: bool
) -> Tuple[Floats2d, Callable]:
    ops = model.ops
    X = Xr.dataXd
    lengths = Xr.lengths
    starts = ops.xp.cumsum(lengths) - lengths
    present = ops.xp.nonzero(lengths > 0)[0]
    rows = starts[present]
    Y = ops.alloc2f(lengths.shape[0], X.shape[1])
    Y[present] = X[rows]

    def backprop(dY: Floats2d) -> Ragged:
        dX = ops.alloc2f(*X.shape)
        dX[rows] = dY[present]
        return Ragged(dX, lengths)

    return Y, backprop
