"""Trim a sentencepiece (unigram) vocabulary to the pieces some texts use.

A trimmed model keeps its pieces' scores and order, so a text whose pieces
are all kept is cut into exactly the same pieces: the unigram search finds
the same best path among fewer candidates. Every single-character piece is
kept as well, so any text still tokenizes, its dropped pieces split into
smaller kept ones, and the lowest-scoring piece, which sets the penalty of
an unknown character. Optionally the model's most frequent pieces written in
the texts' characters are kept too (`frequent_pieces`), so that words the
texts lack lose less.
"""
from typing import Iterable, List, Sequence, Set, Tuple

from ..extras import import_extra


def load_model_proto(data: bytes):
    """Parse a serialized sentencepiece model.

    data (bytes): The contents of a `.model` file.
    RETURNS (ModelProto): The model, as sentencepiece's protobuf message.
    """
    import_extra("google.protobuf", "trim", "Reading a sentencepiece model's pieces", package="protobuf")
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(data)
    if proto.trainer_spec.model_type != sentencepiece_model_pb2.TrainerSpec.UNIGRAM:
        name = sentencepiece_model_pb2.TrainerSpec.ModelType.Name(proto.trainer_spec.model_type)
        raise ValueError(
            f"Only unigram sentencepiece models (XLM-R's kind) can be trimmed; this one is {name}"
        )
    return proto


def pieces_to_keep(proto, used: Iterable[int]) -> List[int]:
    """The piece ids a trimmed model keeps: those used, every piece that is
    not an ordinary one (unknown, control, user-defined, byte), every
    single-character piece, and the lowest-scoring ordinary piece.

    proto (ModelProto): The sentencepiece model.
    used (Iterable[int]): Ids of the pieces the texts use.
    RETURNS (List[int]): The ids kept, in increasing order.
    """
    normal = type(proto.pieces[0]).NORMAL if len(proto.pieces) else 1
    keep: Set[int] = {int(i) for i in used}
    out_of_range = [i for i in keep if not 0 <= i < len(proto.pieces)]
    if out_of_range:
        raise ValueError(f"Piece ids {sorted(out_of_range)[:5]} are not in the model ({len(proto.pieces)} pieces)")
    lowest, lowest_score = None, float("inf")
    for i, piece in enumerate(proto.pieces):
        if piece.type != normal or len(piece.piece) == 1:
            keep.add(i)
        elif piece.score < lowest_score:
            lowest, lowest_score = i, piece.score
    if lowest is not None:
        keep.add(lowest)
    return sorted(keep)


def frequent_pieces(proto, used: Iterable[int], n: int) -> List[int]:
    """The `n` highest-scoring ordinary pieces of more than one character
    that are not in `used` and are written only in characters the used
    pieces have. A unigram model's piece scores are the log-probabilities it
    learned on its training text (for XLM-R, CC-100), so these are the
    pieces that text uses most, in the scripts of the given texts.

    proto (ModelProto): The sentencepiece model.
    used (Iterable[int]): Ids of the pieces the texts use.
    n (int): How many pieces to return at most.
    RETURNS (List[int]): Their ids, highest score first.
    """
    if n < 0:
        raise ValueError(f"The number of frequent pieces to keep must be at least 0, not {n}")
    used_ids = {int(i) for i in used}
    normal = type(proto.pieces[0]).NORMAL if len(proto.pieces) else 1
    chars = {ch for i in used_ids if 0 <= i < len(proto.pieces) for ch in proto.pieces[i].piece}
    candidates = [
        i
        for i, piece in enumerate(proto.pieces)
        if i not in used_ids and piece.type == normal and len(piece.piece) > 1 and chars.issuperset(piece.piece)
    ]
    candidates.sort(key=lambda i: (-proto.pieces[i].score, i))
    return candidates[:n]


def trim_model_proto(proto, keep: Sequence[int]):
    """A copy of a sentencepiece model with only some of its pieces.

    proto (ModelProto): The model.
    keep (Sequence[int]): Ids of the pieces to keep, as from `pieces_to_keep`.
    RETURNS (ModelProto): The trimmed model; its piece `keep[j]` has id j.
    """
    trimmed = type(proto)()
    trimmed.CopyFrom(proto)
    del trimmed.pieces[:]
    trimmed.pieces.extend(proto.pieces[i] for i in sorted(set(keep)))
    return trimmed


def changed_pieces(before: Sequence[str], after: Sequence[str]) -> Tuple[int, int]:
    """How many of a text's pieces a trimmed model cuts differently.

    before (Sequence[str]): The text's pieces under the full model.
    after (Sequence[str]): Its pieces under the trimmed model.
    RETURNS (Tuple[int, int]): Pieces of `before` that `after` does not have
        at the same place in the text, and the number of pieces of `before`.
    """
    if list(before) == list(after):
        return 0, len(before)
    return len(_piece_spans(before) - _piece_spans(after)), len(before)


def _piece_spans(pieces: Sequence[str]) -> Set[Tuple[int, int]]:
    spans = set()
    start = 0
    for piece in pieces:
        spans.add((start, start + len(piece)))
        start += len(piece)
    return spans
