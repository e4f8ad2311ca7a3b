"""Turn a Hugging Face token-classification checkpoint into a spaCy pipeline
(`transformer` + `xlmr_ner`) without any spaCy training.

    from spacy_xlmr_ner.hf import from_hf
    nlp = from_hf("path/to/xlm-roberta-ner")
"""
import contextlib
import re
from typing import Dict, Iterator, List, Mapping, Tuple

import numpy
from spacy.language import Language

from .decoding.labels import IOB2_PREFIX, iob_labels, is_outside, split_tag
from .pipeline.build import create_pipeline
from .pipeline.xlmr_ner import DEFAULT_SPANS_KEY

_GENERIC = re.compile(r"^LABEL_\d+$")
# In the IO scheme B-X and I-X get the same logit, and the Viterbi search breaks
# exact ties towards the lower tag id (B-X), which would cut every multi-word
# entity into one-word entities. Giving I-X this much more (in log space) makes
# "continue the entity" win the tie; it is far above float32 rounding of the
# path scores and changes each probability by about 0.1%.
IO_TIE_BREAK = 1e-3


def from_hf(
    name_or_path: str, *, lang: str = "xx", spans_key: str = DEFAULT_SPANS_KEY
) -> Language:
    """Build a `transformer` + `xlmr_ner` pipeline from a Hugging Face
    `AutoModelForTokenClassification` checkpoint, with no training.

    The transformer loads the checkpoint's encoder (spacy-transformers uses
    `AutoModel`, which skips the head), and the `xlmr_ner` output layer gets the
    checkpoint's `classifier` weights, its rows reordered into the component's
    tags ("O", then "B-X", "I-X" for every label X, sorted). Labels come from
    `config.id2label`: IOB2 ("B-PER", "I-PER", "O"), BIOES/BILOU (S/U read as
    B, E/L as I) or plain labels ("PER", "O": the IO scheme, where B-X and I-X
    both take X's logits). BIOES/BILOU fold two tags into one, approximately:
    see `_merge_rows`.

    name_or_path (str): A local checkpoint directory or a Hugging Face Hub name.
    lang (str): Language code of the blank pipeline, whose tokenizer rules
        `spacy-xlmr-ner.MultilingualTokenizer.v1` extends.
    spans_key (str): Key in `doc.spans` for the entities and their scores.
    RETURNS (Language): The initialized pipeline, ready to use or `to_disk`.
    """
    weights, bias, id2label = load_classifier(name_or_path)
    labels, tag_rows = map_labels(id2label, name_or_path)
    nlp = create_pipeline(
        name_or_path, lang=lang, labels=labels, ner_config={"spans_key": spans_key}, use_fast=True
    )
    ner = nlp.get_pipe("xlmr_ner")
    with _quiet_transformers():
        # spaCy's dummy examples are enough: the labels are already there and
        # every weight is loaded, none learned.
        nlp.initialize()
    output = ner.model.get_ref("output_layer")
    W, b = _merge_rows(weights, bias, tag_rows)
    if output.get_param("W").shape != W.shape:
        raise ValueError(
            f"[from_hf] The classifier of {name_or_path!r} has shape "
            f"{weights.shape}, which does not fit the encoder's width "
            f"{output.get_dim('nI')}."
        )
    output.set_param("W", output.ops.asarray2f(W))
    output.set_param("b", output.ops.asarray1f(b))
    nlp.meta["description"] = f"Named entities from the Hugging Face checkpoint {name_or_path}"
    nlp.meta["sources"] = [{"name": str(name_or_path)}]
    return nlp


def load_classifier(
    name_or_path: str,
) -> Tuple[numpy.ndarray, numpy.ndarray, Dict[int, str]]:
    """Read the token-classification head of a checkpoint.

    name_or_path (str): A local checkpoint directory or a Hugging Face Hub name.
    RETURNS (Tuple[numpy.ndarray, numpy.ndarray, Dict[int, str]]): The weights
        (n_labels, width) and bias (n_labels,) as float32, and `id2label`.
    """
    import torch
    from transformers import AutoModelForTokenClassification

    no_head = (
        f"[from_hf] {name_or_path!r} has no token-classification head "
        "(a Linear layer named 'classifier')"
    )
    with _quiet_transformers():
        try:
            model, info = AutoModelForTokenClassification.from_pretrained(
                str(name_or_path), output_loading_info=True
            )
        except ValueError as err:  # a model type with no token-classification class
            raise ValueError(f"{no_head}: {err}") from err
    head = getattr(model, "classifier", None)
    # A checkpoint without the head still loads, with a random one: only the
    # loading info tells.
    if not isinstance(head, torch.nn.Linear) or any(
        key.startswith("classifier.") for key in info["missing_keys"]
    ):
        raise ValueError(f"{no_head}. Is it a base model or another task's model?")
    weights = head.weight.detach().float().cpu().numpy().copy()
    bias = numpy.zeros(len(weights), "f")
    if head.bias is not None:
        bias = head.bias.detach().float().cpu().numpy().copy()
    id2label = {int(i): str(label) for i, label in model.config.id2label.items()}
    del model  # the transformer component loads its own copy of the encoder
    if sorted(id2label) != list(range(len(weights))):
        raise ValueError(
            f"[from_hf] config.id2label of {name_or_path!r} names ids {sorted(id2label)} "
            f"but the classifier has {len(weights)} outputs."
        )
    return weights, bias, id2label


def map_labels(
    id2label: Mapping[int, str], name: str = "the checkpoint"
) -> Tuple[List[str], List[List[int]]]:
    """Map a checkpoint's labels to the `xlmr_ner` tags.

    id2label (Mapping[int, str]): The checkpoint's `config.id2label`.
    name (str): The checkpoint's name, for error messages.
    RETURNS (Tuple[List[str], List[List[int]]]): The entity labels (sorted)
        and, for each tag of `iob_labels(labels)`, the checkpoint's label ids
        whose logits it takes.
    """
    items = sorted(id2label.items())
    names = [label for _, label in items]

    def fail(why: str) -> ValueError:
        return ValueError(f"[from_hf] Cannot read the labels of {name!r} ({why}): {names}")

    if all(_GENERIC.match(label) for label in names):
        raise fail("generic names: set id2label in its config.json")
    outside = [i for i, label in items if is_outside(label)]
    if len(outside) != 1:
        raise fail(f"need exactly one 'O' label, found {len(outside)}")
    starts: Dict[str, List[int]] = {}
    insides: Dict[str, List[int]] = {}
    split = {i: split_tag(label) for i, label in items if i != outside[0]}
    prefixed = [bool(prefix) for prefix, _ in split.values()]
    if all(prefixed):  # IOB2, IOB1, BIOES, BILOU
        for i, (prefix, label) in split.items():
            side = starts if IOB2_PREFIX[prefix] == "B" else insides
            side.setdefault(label, []).append(i)
    elif not any(prefixed):  # IO: plain labels
        for i in split:
            starts[id2label[i]] = insides[id2label[i]] = [i]
    else:
        raise fail("a mix of prefixed and plain labels")
    labels = sorted(set(starts) | set(insides))
    if not labels:
        raise fail("no entity labels")
    if any(not label.strip() for label in labels):
        raise fail("an empty entity label")
    tag_rows = [outside]
    for label in labels:
        # A label with only one side (IOB1 "I-X" alone) is read as IO.
        start = starts.get(label) or insides[label]
        tag_rows.extend((start, insides.get(label) or start))
    assert len(tag_rows) == len(iob_labels(labels))
    return labels, tag_rows


def _merge_rows(
    weights: numpy.ndarray, bias: numpy.ndarray, tag_rows: List[List[int]]
) -> Tuple[numpy.ndarray, numpy.ndarray]:
    """The output layer's W and b: per tag, the logits of its source labels.

    Two source labels for one tag (B and S of BIOES) cannot be summed in
    probability by a linear layer; their mean logit plus log(k) is used, which
    is exact when both logits are equal and an approximation otherwise.
    """
    W = numpy.stack([weights[rows].mean(axis=0) for rows in tag_rows]).astype("f")
    b = numpy.asarray([bias[rows].mean() + numpy.log(len(rows)) for rows in tag_rows], "f")
    for tag in range(1, len(tag_rows), 2):  # (B-X, I-X) pairs after "O"
        if tag_rows[tag] == tag_rows[tag + 1]:
            b[tag + 1] += IO_TIE_BREAK
    return W, b


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence the expected loading warnings: `AutoModel` drops the classifier
    and initializes an unused pooler, which reads like a broken checkpoint."""
    from transformers.utils import logging

    verbosity = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
