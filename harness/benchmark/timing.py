"""Words per second and peak memory of inference on raw texts.

This module imports neither spaCy nor the rest of this package, so that the
reference recipe is timed in a process that holds only what `transformers`
needs: run it as a script,

    python harness/benchmark/timing.py MODEL_DIR TEXTS_FILE --threads 2

and it prints one JSON object. spaCy pipelines are timed by
`python -m harness.benchmark.measure speed`, with the same helpers.
"""
import argparse
import json
import resource
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Union


def peak_rss_mb() -> float:
    """RETURNS (float): This process's peak resident set size so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_texts(run: Callable[[List[str]], Any], texts: List[str], warmup: int = 32) -> float:
    """Seconds to annotate `texts` once, after a warm-up on the first few.

    run (Callable[[List[str]], Any]): Annotates a list of raw texts.
    texts (List[str]): Raw texts.
    warmup (int): Texts run once before timing.
    RETURNS (float): Wall seconds.
    """
    import torch

    run(texts[:warmup])
    start = time.perf_counter()
    with torch.inference_mode():
        run(texts)
    return time.perf_counter() - start


def read_texts(path: Union[str, Path]) -> List[str]:
    """path (Union[str, Path]): A UTF-8 file with one raw text per line.
    RETURNS (List[str]): The texts."""
    return Path(path).read_text(encoding="utf-8").splitlines()


def speed_record(texts: Sequence[str], seconds: float, threads: int) -> Dict[str, Any]:
    """texts (Sequence[str]): The texts timed. seconds (float): Wall time.
    threads (int): Torch threads. RETURNS (Dict[str, Any]): Texts, words
    (whitespace-separated), seconds, words per second, threads, peak RSS."""
    words = sum(len(text.split()) for text in texts)
    return {
        "texts": len(texts),
        "words": words,
        "seconds": seconds,
        "words_per_second": words / seconds,
        "threads": threads,
        "peak_rss_mb": peak_rss_mb(),
    }


def hf_pipeline(model_dir: Union[str, Path], batch_size: int = 32):
    """model_dir (Union[str, Path]): A saved token-classification model.
    batch_size (int): Texts per forward pass.
    RETURNS: `transformers.pipeline("token-classification")` with
        `aggregation_strategy="first"`, on the CPU."""
    from transformers import pipeline

    return pipeline(
        "token-classification",
        model=str(model_dir),
        aggregation_strategy="first",
        batch_size=batch_size,
        device=-1,
    )


def hf_speed(
    model_dir: Union[str, Path], texts_file: Union[str, Path], threads: int = 1, batch_size: int = 32, repeats: int = 1
) -> Dict[str, Any]:
    """Time a token-classification model through `transformers.pipeline`.

    model_dir (Union[str, Path]): The saved model.
    texts_file (Union[str, Path]): One raw text per line.
    threads (int): Torch threads.
    batch_size (int): Batch size of the pipeline.
    repeats (int): Timed passes; the fastest counts.
    RETURNS (Dict[str, Any]): As `speed_record`.
    """
    import torch

    torch.set_num_threads(threads)
    texts = read_texts(texts_file)
    pipe = hf_pipeline(model_dir, batch_size=batch_size)
    seconds = min(time_texts(pipe, texts) for _ in range(max(1, repeats)))
    return speed_record(texts, seconds, threads)


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="Words/s and peak RSS of a Hugging Face token-classification model")
    parser.add_argument("model_dir", type=Path, help="Saved token-classification model")
    parser.add_argument("texts_file", type=Path, help="One raw text per line")
    parser.add_argument("--threads", type=int, default=1, help="Torch threads")
    parser.add_argument("--batch-size", type=int, default=32, help="Batch size of the pipeline")
    parser.add_argument("--repeats", type=int, default=1, help="Timed passes; the fastest counts")
    args = parser.parse_args(argv)
    for path in (args.model_dir, args.texts_file):
        if not path.exists():
            parser.error(f"not found: {path}")
    print(json.dumps(hf_speed(args.model_dir, args.texts_file, args.threads, args.batch_size, args.repeats)))


if __name__ == "__main__":
    main()
