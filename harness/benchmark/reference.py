"""The reference recipe: Hugging Face `AutoModelForTokenClassification`
fine-tuning with first-subword labels (as `../shared/tools/hf_baseline.py` and
the seed scripts do). Its inference through `transformers.pipeline` is in
`timing.py`."""
import json
import random
import time
from pathlib import Path
from typing import Dict, List, Sequence, Tuple, Union

import torch
import typer

from spacy_xlmr_ner.decoding.labels import entity_labels, iob_labels

Sentence = Tuple[List[str], List[str]]


def tag_set(sentences: Sequence[Sentence]) -> List[str]:
    """sentences (Sequence[Sentence]): (words, IOB2 tags) pairs.
    RETURNS (List[str]): "O", then B- and I- of every entity label, sorted."""
    return iob_labels(entity_labels(tag for _, tags in sentences for tag in tags))


def _encode(tokenizer, batch: Sequence[Sentence], tag_ids: Dict[str, int], max_length: int, with_labels: bool):
    enc = tokenizer(
        [words for words, _ in batch],
        is_split_into_words=True,
        truncation=True,
        max_length=max_length,
        padding=True,
        return_tensors="pt",
    )
    if with_labels:
        labels = torch.full(enc["input_ids"].shape, -100)
        for i, (_, tags) in enumerate(batch):
            previous = None
            for j, word_id in enumerate(enc.word_ids(i)):
                if word_id is not None and word_id != previous:
                    labels[i, j] = tag_ids[tags[word_id]]
                previous = word_id
        enc["labels"] = labels
    return enc


def train_reference(
    encoder: Union[str, Path],
    sentences: Sequence[Sentence],
    output_dir: Union[str, Path],
    *,
    epochs: float = 2.0,
    batch_size: int = 16,
    learn_rate: float = 5e-5,
    seed: int = 0,
    max_length: int = 128,
) -> Dict:
    """Fine-tune an encoder for token classification as the reference recipe
    does: a randomly initialised linear classifier on the encoder, labels on
    the first word piece of each word (-100 elsewhere), AdamW with weight
    decay 0.01, linear warmup over 10% of the steps and decay to zero,
    gradient clipping at 1.0, a fresh shuffle every epoch.

    encoder (Union[str, Path]): Encoder name or directory.
    sentences (Sequence[Sentence]): Training (words, IOB2 tags).
    output_dir (Union[str, Path]): Where the model and tokenizer are saved.
    epochs (float): Passes over the sentences.
    batch_size (int): Sentences per step.
    learn_rate (float): Peak learning rate.
    seed (int): Seed of the shuffles and of the classifier's initialisation.
    max_length (int): Word pieces per sentence; longer sentences are cut.
    RETURNS (Dict): `steps`, `seconds` (the training loop) and `tags`.
    """
    from transformers import AutoModelForTokenClassification, AutoTokenizer, get_linear_schedule_with_warmup

    random.seed(seed)
    torch.manual_seed(seed)
    tags = tag_set(sentences)
    tag_ids = {tag: i for i, tag in enumerate(tags)}
    tokenizer = AutoTokenizer.from_pretrained(str(encoder))
    model = AutoModelForTokenClassification.from_pretrained(
        str(encoder), num_labels=len(tags), id2label=dict(enumerate(tags)), label2id=tag_ids
    )
    train = list(sentences)
    steps = int(len(train) / batch_size * epochs)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learn_rate, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.1 * steps), steps)
    model.train()
    start = time.perf_counter()
    step = 0
    while step < steps:
        random.shuffle(train)
        for i in range(0, len(train), batch_size):
            if step >= steps:
                break
            loss = model(**_encode(tokenizer, train[i : i + batch_size], tag_ids, max_length, True)).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            step += 1
            if step % 50 == 0:
                print(f"step {step}/{steps} loss {loss.item():.3f} {time.perf_counter() - start:.0f}s", flush=True)
    seconds = time.perf_counter() - start
    model.save_pretrained(str(output_dir))
    tokenizer.save_pretrained(str(output_dir))
    return {"steps": steps, "seconds": seconds, "tags": tags}


def load_reference(model_dir: Union[str, Path]):
    """model_dir (Union[str, Path]): A saved token-classification model.
    RETURNS (Tuple): The tokenizer and the model, in eval mode."""
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForTokenClassification.from_pretrained(str(model_dir)).eval()
    return tokenizer, model


def predict_words(
    tokenizer, model, sentences: Sequence[List[str]], *, batch_size: int = 64, max_length: int = 128
) -> List[List[str]]:
    """Tag pre-tokenized sentences as the reference recipe does: the argmax
    tag of each word's first word piece, "O" for words cut off at
    `max_length`.

    tokenizer: The model's tokenizer.
    model: An `AutoModelForTokenClassification`.
    sentences (Sequence[List[str]]): Words per sentence.
    batch_size (int): Sentences per forward pass.
    max_length (int): Word pieces per sentence.
    RETURNS (List[List[str]]): IOB2 tags per sentence (not repaired).
    """
    labels = model.config.id2label
    result = []
    with torch.inference_mode():
        for i in range(0, len(sentences), batch_size):
            batch = [(words, []) for words in sentences[i : i + batch_size]]
            enc = _encode(tokenizer, batch, {}, max_length, False)
            best = model(**enc).logits.argmax(-1)
            for k, (words, _) in enumerate(batch):
                tags = ["O"] * len(words)
                previous = None
                for j, word_id in enumerate(enc.word_ids(k)):
                    if word_id is not None and word_id != previous:
                        tags[word_id] = labels[int(best[k, j])]
                    previous = word_id
                result.append(tags)
    return result


def train_cli(
    encoder: Path = typer.Argument(..., help="Encoder directory or name"),
    train_file: Path = typer.Argument(..., help="Training IOB file", exists=True),
    output_dir: Path = typer.Argument(..., help="Where the model goes"),
    n_train: int = typer.Option(2000, help="First N training sentences; 0 for all"),
    epochs: float = typer.Option(2.0, help="Passes over the sentences"),
    batch_size: int = typer.Option(16, help="Sentences per step"),
    learn_rate: float = typer.Option(5e-5, help="Peak learning rate"),
    seed: int = typer.Option(0, help="Random seed"),
    threads: int = typer.Option(0, help="Torch threads; 0 keeps the default"),
) -> None:
    """Train the reference recipe on an IOB file; print its steps and seconds as JSON."""
    from spacy_xlmr_ner.io.iob import read_iob

    if threads:
        torch.set_num_threads(threads)
    sentences = [(s.words, s.tags) for s in read_iob(train_file, limit=n_train).sentences]
    result = train_reference(
        encoder, sentences, output_dir, epochs=epochs, batch_size=batch_size, learn_rate=learn_rate, seed=seed
    )
    print(json.dumps({"steps": result["steps"], "seconds": result["seconds"], "n_train": len(sentences)}))


if __name__ == "__main__":
    typer.run(train_cli)
