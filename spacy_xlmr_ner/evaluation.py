"""Evaluation of a pipeline per language and entity type."""
from pathlib import Path
from typing import Dict, List, Union

from spacy.language import Language
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
    RETURNS (Dict[str, Dict]): Per language, and under "all" (micro-averaged
        over every language's entities), spaCy's `ents_p`, `ents_r`,
        `ents_f`, `ents_per_type`, plus `n_docs` and `words_per_second`.
    """
    files = resolve_corpus_files(Path(corpus), split, langs)
    results: Dict[str, Dict] = {}
    every_example = []
    for file in files:
        lang = file.parent.name
        examples = list(MultilingualCorpus(corpus, split, langs=[lang], limit=limit)(nlp))
        scores = nlp.evaluate(examples, batch_size=batch_size)
        results[lang] = _ner_scores(scores, len(examples))
        every_example.extend(examples)
    if len(files) > 1:
        # Score the docs already annotated by the per-language runs, not again.
        scorer_scores = nlp.get_pipe("xlmr_ner").score(every_example)
        results["all"] = _ner_scores(scorer_scores, len(every_example))
    return results


def _ner_scores(scores: Dict, n_docs: int) -> Dict:
    keys = ("ents_p", "ents_r", "ents_f", "ents_per_type", "speed")
    out = {key: scores[key] for key in keys if key in scores}
    if "speed" in out:
        out["words_per_second"] = out.pop("speed")
    out["n_docs"] = n_docs
    return out


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
