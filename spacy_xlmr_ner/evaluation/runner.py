"""Run a pipeline over gold test sets and score it per language."""
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Union

from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example
from tqdm import tqdm

from ..io.readers import read_gold_docs
from .metrics import score_examples


def evaluate_per_language(
    nlp: Language,
    test_data: Union[str, Path],
    langs: Union[str, List[str]] = "all",
    split: str = "test",
    limit: int = 0,
    batch_size: int = 64,
    label_map: Optional[Dict[str, str]] = None,
    progress: Optional[bool] = None,
) -> Dict[str, Dict]:
    """Score NER on the test set of each language, and on all together.

    The pipeline sees only the raw text of each gold doc (tokenized by the
    pipeline's own tokenizer) and is scored against the gold tokens through
    the alignment, as in `spacy evaluate`.

    nlp (Language): The trained pipeline.
    test_data (Union[str, Path]): A directory of `{lang}/{split}.spacy` or
        `{lang}/{split}.iob` files, or one `.spacy` or IOB file.
    langs (Union[str, List[str]]): Languages, comma-separated, or "all".
    split (str): The split to evaluate on.
    limit (int): First N documents per language; 0 for all.
    batch_size (int): Batch size for the pipeline.
    label_map (Optional[Dict[str, str]]): Renames of gold labels (see `io.label_map`).
    progress (Optional[bool]): Show a progress bar per language on stderr.
        None shows one when stderr is a terminal.
    RETURNS (Dict[str, Dict]): Per language, and under "all" when there are
        several (micro-averaged over every language's entities): the scores of
        `metrics.score_examples`, plus `n_words`, `seconds` and `words_per_second`.
    """
    gold = read_gold_docs(test_data, nlp.vocab, split=split, langs=langs, limit=limit, label_map=label_map)
    results: Dict[str, Dict] = {}
    every_example: List[Example] = []
    total_words, total_seconds = 0, 0.0
    for lang, docs in gold.items():
        examples, seconds = predict_examples(nlp, docs, batch_size=batch_size, progress=progress, desc=lang)
        words = sum(len(eg.predicted) for eg in examples)
        results[lang] = _with_speed(score_examples(examples), words, seconds)
        every_example.extend(examples)
        total_words += words
        total_seconds += seconds
    if len(gold) > 1:
        results["all"] = _with_speed(score_examples(every_example), total_words, total_seconds)
    return results


def predict_examples(
    nlp: Language,
    gold_docs: List[Doc],
    batch_size: int = 64,
    progress: Optional[bool] = None,
    desc: Optional[str] = None,
):
    """Annotate the text of gold docs with the pipeline.

    nlp (Language): The pipeline.
    gold_docs (List[Doc]): The gold docs.
    batch_size (int): Batch size for `nlp.pipe`.
    progress (Optional[bool]): Show a progress bar on stderr; None shows one
        when stderr is a terminal.
    desc (Optional[str]): The progress bar's label.
    RETURNS (Tuple[List[Example], float]): Examples pairing predictions with
        gold, and the seconds the pipeline took.
    """
    inputs = [nlp.make_doc(doc.text) for doc in gold_docs]
    start = time.perf_counter()
    bar = tqdm(
        nlp.pipe(inputs, batch_size=batch_size), total=len(inputs), disable=None if progress is None else not progress,
        file=sys.stderr, unit="docs", leave=False, desc=desc,
    )
    predicted = list(bar)
    seconds = time.perf_counter() - start
    return [Example(pred, ref) for pred, ref in zip(predicted, gold_docs)], seconds


def _with_speed(scores: Dict, words: int, seconds: float) -> Dict:
    scores["n_words"] = words
    scores["seconds"] = seconds
    scores["words_per_second"] = words / seconds if seconds else None
    return scores
