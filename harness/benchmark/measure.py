"""Accuracy of one trained system, and the speed of a spaCy pipeline, measured
in a process of its own (`python -m harness.benchmark.measure ...`) so
that its peak RSS and thread settings are its own. Prints one JSON object on
the last line. (The reference's speed is measured by `timing.py`.)"""
import json
from pathlib import Path
from typing import Dict, List, Optional

import torch
import typer
from spacy.tokens import Doc, Span
from spacy.training import Example, biluo_tags_to_spans, iob_to_biluo
from spacy.util import filter_spans

from spacy_xlmr_ner.evaluation.metrics import score_examples
from spacy_xlmr_ner.io.readers import read_gold_docs
from .timing import peak_rss_mb, read_texts, speed_record, time_texts

SYSTEMS = ("spacy", "hf", "spanmarker")

app = typer.Typer(add_completion=False, help=__doc__)


def write_results(results_dir: Path, stem: str, result: Dict, markdown: str) -> None:
    """Write a benchmark's record as `stem.json` and its report as `stem.md`.

    results_dir (Path): Where they go (created if missing).
    stem (str): The files' name without suffix.
    result (Dict): The record, JSON-able.
    markdown (str): The report.
    """
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / f"{stem}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    (results_dir / f"{stem}.md").write_text(markdown)


def untrained_pipeline(encoder: Path, out: Path) -> Path:
    """Save an `xlmr_ner` pipeline on `encoder` with an untrained head to
    `out`, for benchmarks that measure the cost of inference, not its accuracy.

    encoder (Path): A Hugging Face encoder directory.
    out (Path): Where to save the pipeline.
    RETURNS (Path): `out`.
    """
    from spacy_xlmr_ner import create_pipeline

    nlp = create_pipeline(encoder, labels=["PER", "ORG", "LOC"])
    nlp.initialize()
    nlp.to_disk(out)
    return out


def load_system(system: str, model: Path, precision: str = "fp32", entity_vectors: bool = True):
    """Load a trained system for prediction.

    system (str): "spacy" (a pipeline directory), "hf" (a saved
        token-classification model) or "spanmarker" (a saved SpanMarker model).
    model (Path): Its directory.
    precision (str): "fp32", "int8" or "bf16" (spaCy pipelines with an `xlmr_transformer`).
    entity_vectors (bool): False turns off the entity vectors of the
        pipeline's components that have them (spaCy pipelines only).
    RETURNS: The spaCy `Language`, the Hugging Face pipeline, or the `SpanMarkerModel`.
    """
    if system not in SYSTEMS:
        raise ValueError(f"system must be one of {SYSTEMS}, not {system!r}")
    if system == "hf":
        if precision != "fp32":
            raise ValueError("The reference runs in fp32 only")
        from .timing import hf_pipeline

        return hf_pipeline(model)
    if system == "spanmarker":
        if precision != "fp32":
            raise ValueError("SpanMarker runs in fp32 only")
        from .spanmarker import load_spanmarker

        return load_spanmarker(model)
    import spacy

    components: Dict[str, Dict] = {"transformer": {"precision": precision}} if precision != "fp32" else {}
    if not entity_vectors:
        pipes = spacy.util.load_config(Path(model) / "config.cfg")["components"]
        components.update({name: {"entity_vectors": False} for name, cfg in pipes.items() if "entity_vectors" in cfg})
    return spacy.load(model, config={"components": components} if components else {})


def predict_gold_tokens(system: str, predictor, gold: List[Doc]) -> List[Example]:
    """Annotate the gold tokenization of each doc (as `spacy evaluate` and
    seqeval on word-level tags do), so every system sees the same words.

    system (str): "spacy", "hf" or "spanmarker".
    predictor: As from `load_system`.
    gold (List[Doc]): Gold docs.
    RETURNS (List[Example]): Predictions paired with the gold docs.
    """
    if system == "spacy":
        inputs = [Doc(predictor.vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc]) for doc in gold]
        predicted = list(predictor.pipe(inputs))
    elif system == "spanmarker":
        from .spanmarker import predict_spans

        predicted = []
        for doc, spans in zip(gold, predict_spans(predictor, [[t.text for t in doc] for doc in gold])):
            pred = Doc(doc.vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc])
            # SpanMarker's own decoding keeps spans apart; filter_spans only guards set_ents.
            pred.set_ents(filter_spans([Span(pred, start, end, label=label) for start, end, label in spans]))
            predicted.append(pred)
    else:
        from .reference import predict_words

        words = [[t.text for t in doc] for doc in gold]
        tags = predict_words(predictor.tokenizer, predictor.model, words)
        predicted = []
        for doc, doc_tags in zip(gold, tags):
            pred = Doc(doc.vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc])
            pred.set_ents(biluo_tags_to_spans(pred, iob_to_biluo(doc_tags)))
            predicted.append(pred)
    return [Example(pred, ref) for pred, ref in zip(predicted, gold)]


@app.command("accuracy")
def accuracy_cli(
    system: str = typer.Argument(..., help="spacy, hf or spanmarker"),
    model: Path = typer.Argument(..., help="Trained pipeline or model directory", exists=True),
    test_dir: Path = typer.Argument(..., help="Directory of {lang}/test.iob files", exists=True),
    langs: str = typer.Option("de", help="Test languages, comma-separated"),
    limit: int = typer.Option(1000, help="First N test sentences per language"),
    precision: str = typer.Option("fp32", help="fp32, int8 or bf16"),
    threads: int = typer.Option(0, help="Torch threads; 0 keeps the default"),
) -> None:
    """Strict entity F1 per language and type, on the gold tokens."""
    if threads:
        torch.set_num_threads(threads)
    predictor = load_system(system, model, precision)
    import spacy

    vocab = predictor.vocab if system == "spacy" else spacy.blank("xx").vocab
    result: Dict[str, Dict] = {}
    for lang, docs in read_gold_docs(test_dir, vocab, split="test", langs=langs, limit=limit).items():
        examples = predict_gold_tokens(system, predictor, docs)
        scores = score_examples(examples)
        result[lang] = {
            "f": scores["ents_f"],
            "p": scores["ents_p"],
            "r": scores["ents_r"],
            "per_type": {label: s["f"] for label, s in (scores.get("ents_per_type") or {}).items()},
            "n_docs": len(docs),
        }
    print(json.dumps({"accuracy": result, "peak_rss_mb": peak_rss_mb()}))


@app.command("speed")
def speed_cli(
    model: Path = typer.Argument(..., help="Trained spaCy pipeline", exists=True),
    texts_file: Path = typer.Argument(..., help="One raw text per line", exists=True),
    threads: int = typer.Option(1, help="Torch threads"),
    precision: str = typer.Option("fp32", help="fp32, int8 or bf16"),
    repeats: int = typer.Option(1, help="Timed passes; the fastest counts"),
    entity_vectors: bool = typer.Option(True, help="--no-entity-vectors turns the components' entity vectors off"),
) -> None:
    """Words per second of `nlp.pipe` on raw texts, and the process's peak RSS.
    (The reference is timed by `benchmark/timing.py`, in a process without spaCy.)"""
    torch.set_num_threads(threads)
    texts = read_texts(texts_file)
    nlp = load_system("spacy", model, precision, entity_vectors=entity_vectors)
    seconds = min(time_texts(lambda batch: list(nlp.pipe(batch)), texts) for _ in range(max(1, repeats)))
    print(json.dumps(speed_record(texts, seconds, threads)))


def last_json(output: str) -> Optional[Dict]:
    """output (str): A process's stdout. RETURNS (Optional[Dict]): Its last JSON line."""
    for line in reversed(output.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return None


if __name__ == "__main__":
    app()
