"""SpanMarker (`span-marker` on PyPI, Aarsen's span classifier with marker
tokens) as an optional system of the benchmark, trained and timed in
processes of their own as `../shared/tools/spanmarker_baseline.py` does it:
the same encoder, labels from the IOB tags, `entity_max_length` 8,
`model_max_length` 256, the Hugging Face `Trainer` with AdamW, linear warmup
over 10% of the steps, the benchmark's batch size, epochs and seed.

    python -m harness.benchmark.spanmarker train ENCODER TRAIN.iob OUT_DIR
    python -m harness.benchmark.spanmarker speed OUT_DIR TEXTS_FILE --threads 2

`span-marker` is a tool of the benchmark only, not a dependency of
`spacy-xlmr-ner`: install it beside it (`pip install span-marker`). Each
command prints one JSON object on its last line.
"""
import json
import os
import tempfile
import time
from pathlib import Path
from typing import List, Sequence, Tuple, Union

import typer

from .timing import read_texts, speed_record

app = typer.Typer(add_completion=False, help=__doc__)

INSTALL = "SpanMarker is not installed: pip install span-marker (a benchmark tool, not a dependency of spacy-xlmr-ner)"


def _import_span_marker():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    try:
        import span_marker
    except ImportError as err:
        raise RuntimeError(INSTALL) from err
    return span_marker


def train_spanmarker(
    encoder: Union[str, Path],
    sentences: Sequence[Tuple[List[str], List[str]]],
    output_dir: Union[str, Path],
    *,
    epochs: float = 2.0,
    batch_size: int = 16,
    learn_rate: float = 5e-5,
    seed: int = 0,
    entity_max_length: int = 8,
    model_max_length: int = 256,
) -> dict:
    """Train SpanMarker on (words, IOB2 tags) sentences and save it.

    encoder (Union[str, Path]): Encoder name or directory.
    sentences (Sequence[Tuple[List[str], List[str]]]): Training sentences.
    output_dir (Union[str, Path]): Where the model is saved.
    epochs (float): Passes over the sentences.
    batch_size (int): Sentences per step.
    learn_rate (float): Peak learning rate.
    seed (int): The Trainer's seed.
    entity_max_length (int): Longest candidate span, in words.
    model_max_length (int): Encoder input length, in pieces.
    RETURNS (dict): `seconds` (the training loop), `steps`, `labels`.
    """
    _import_span_marker()
    from datasets import Dataset
    from span_marker import SpanMarkerModel, Trainer
    from transformers import TrainingArguments

    from .reference import tag_set

    labels = tag_set(sentences)
    ids = {tag: i for i, tag in enumerate(labels)}
    data = Dataset.from_dict(
        {"tokens": [words for words, _ in sentences], "ner_tags": [[ids[t] for t in tags] for _, tags in sentences]}
    )
    model = SpanMarkerModel.from_pretrained(
        str(encoder), labels=labels, model_max_length=model_max_length, entity_max_length=entity_max_length
    )
    args = TrainingArguments(
        output_dir=tempfile.mkdtemp(), learning_rate=learn_rate, per_device_train_batch_size=batch_size,
        num_train_epochs=epochs, warmup_ratio=0.1, save_strategy="no", report_to=[], logging_steps=10,
        use_cpu=True, seed=seed, dataloader_num_workers=0,
    )
    trainer = Trainer(model=model, args=args, train_dataset=data)
    start = time.perf_counter()
    state = trainer.train()
    seconds = time.perf_counter() - start
    model.save_pretrained(str(output_dir))
    return {"seconds": seconds, "steps": state.global_step, "labels": labels}


def load_spanmarker(model_dir: Union[str, Path]):
    """model_dir (Union[str, Path]): A saved SpanMarker model.
    RETURNS: The `SpanMarkerModel`, in eval mode, on the CPU."""
    _import_span_marker()
    from span_marker import SpanMarkerModel

    return SpanMarkerModel.from_pretrained(str(model_dir)).eval()


def predict_spans(model, sentences: Sequence[List[str]], batch_size: int = 32) -> List[List[Tuple[int, int, str]]]:
    """Entities of pre-tokenized sentences by SpanMarker's own `predict`.

    model: A `SpanMarkerModel`.
    sentences (Sequence[List[str]]): Words per sentence.
    batch_size (int): Sentences per forward pass.
    RETURNS (List[List[Tuple[int, int, str]]]): Per sentence, (start word,
        end word exclusive, label) of each entity.
    """
    if not sentences:
        return []
    predicted = model.predict([list(words) for words in sentences], batch_size=batch_size, show_progress_bar=False)
    return [[(e["word_start_index"], e["word_end_index"], e["label"]) for e in ents] for ents in predicted]


@app.command("train")
def train_cli(
    encoder: Path = typer.Argument(..., help="Encoder directory or name"),
    train_file: Path = typer.Argument(..., help="Training IOB file", exists=True),
    output_dir: Path = typer.Argument(..., help="Where the model goes"),
    n_train: int = typer.Option(2000, help="First N training sentences; 0 for all"),
    epochs: float = typer.Option(2.0, help="Passes over the sentences"),
    batch_size: int = typer.Option(16, help="Sentences per step"),
    learn_rate: float = typer.Option(5e-5, help="Peak learning rate"),
    seed: int = typer.Option(0, help="Random seed"),
    entity_max_length: int = typer.Option(8, help="Longest candidate span, in words"),
    model_max_length: int = typer.Option(256, help="Encoder input length, in pieces"),
    threads: int = typer.Option(0, help="Torch threads; 0 keeps the default"),
) -> None:
    """Train SpanMarker on an IOB file; print its steps and seconds as JSON."""
    import torch

    from spacy_xlmr_ner.io.iob import read_iob

    if threads:
        torch.set_num_threads(threads)
    sentences = [(s.words, s.tags) for s in read_iob(train_file, limit=n_train).sentences]
    result = train_spanmarker(
        encoder, sentences, output_dir, epochs=epochs, batch_size=batch_size, learn_rate=learn_rate, seed=seed,
        entity_max_length=entity_max_length, model_max_length=model_max_length,
    )
    print(json.dumps({"steps": result["steps"], "seconds": result["seconds"], "n_train": len(sentences)}))


@app.command("speed")
def speed_cli(
    model_dir: Path = typer.Argument(..., help="Saved SpanMarker model", exists=True),
    texts_file: Path = typer.Argument(..., help="One raw text per line", exists=True),
    threads: int = typer.Option(1, help="Torch threads"),
    batch_size: int = typer.Option(32, help="Sentences per forward pass"),
) -> None:
    """Words per second of SpanMarker's `predict` on raw texts (split on
    whitespace, the words the other systems' words/s count), and peak RSS."""
    import torch

    from .timing import time_texts

    torch.set_num_threads(threads)
    texts = read_texts(texts_file)
    model = load_spanmarker(model_dir)
    seconds = time_texts(lambda batch: predict_spans(model, [t.split() for t in batch], batch_size), texts)
    print(json.dumps(speed_record(texts, seconds, threads)))


if __name__ == "__main__":
    app()
