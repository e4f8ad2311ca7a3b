"""Evaluation of a pipeline per language and entity type."""
import time
from pathlib import Path
from typing import Dict, List, Union

from spacy.language import Language
from spacy.scorer import get_ner_prf
from spacy.training import Example
from wasabi import table

from .io.readers import MultilingualCorpus, resolve_corpus_files


def evaluate_per_language(
    nlp: Language,
    corpus: Union[str, Path],
    langs: Union[str, List[str]] = "all",
    split: str = "test",
    limit: int = 0,
    batch_size: int = 64,
) -> Dict[str, Dict]:
    """Score NER on the `split` DocBin of each language, and on all together.

    nlp (Language): The trained pipeline.
    corpus (Union[str, Path]): Directory with `{lang}/{split}.spacy` files.
    langs (Union[str, List[str]]): Languages, comma-separated, or "all".
    split (str): The split to evaluate on.
    limit (int): First N documents per language; 0 for all.
    batch_size (int): Batch size for the pipeline.
    RETURNS (Dict[str, Dict]): Per language, and under "all" when there are
        several (micro-averaged over every language's entities): `ents_p`,
        `ents_r`, `ents_f`, `ents_per_type` (as spaCy's NER scorer gives
        them), `n_docs` and `words_per_second`.
    """
    files = resolve_corpus_files(Path(corpus), split, langs)
    results: Dict[str, Dict] = {}
    every_example: List[Example] = []
    total_words, total_seconds = 0, 0.0
    for file in files:
        lang = file.parent.name
        gold = list(MultilingualCorpus(corpus, split, langs=[lang], limit=limit)(nlp))
        start = time.perf_counter()
        docs = list(nlp.pipe((eg.predicted for eg in gold), batch_size=batch_size))
        seconds = time.perf_counter() - start
        examples = [Example(doc, eg.reference) for doc, eg in zip(docs, gold)]
        words = sum(len(doc) for doc in docs)
        results[lang] = _scores(examples, words, seconds)
        every_example.extend(examples)
        total_words += words
        total_seconds += seconds
    if len(files) > 1:
        results["all"] = _scores(every_example, total_words, total_seconds)
    return results


def _scores(examples: List[Example], words: int, seconds: float) -> Dict:
    scores = get_ner_prf(examples)
    scores["n_docs"] = len(examples)
    scores["words_per_second"] = words / seconds if seconds else None
    return scores


def format_results(results: Dict[str, Dict]) -> str:
    """Format per-language results as a table: P/R/F overall and F per type.

    results (Dict[str, Dict]): As returned by `evaluate_per_language`.
    RETURNS (str): The table.
    """
    labels = sorted({label for r in results.values() for label in r.get("ents_per_type") or {}})
    header = ["lang", "docs", "P", "R", "F", *[f"F {label}" for label in labels]]
    rows = []
    for lang, r in results.items():
        per_type = r.get("ents_per_type") or {}
        row = [lang, r["n_docs"], *(f"{100 * (r[k] or 0):.1f}" for k in ("ents_p", "ents_r", "ents_f"))]
        row += [f"{100 * per_type[label]['f']:.1f}" if label in per_type else "-" for label in labels]
        rows.append(row)
    return table(rows, header=header, divider=True, aligns=["l"] + ["r"] * (len(header) - 1))
