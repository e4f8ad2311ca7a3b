"""Convert IOB NER files to spaCy DocBin corpora.

python scripts/convert.py INPUT_DIR OUTPUT_DIR --langs de,en --splits train,dev,test
python scripts/convert.py INPUT.iob OUTPUT.spacy
python scripts/convert.py INPUT_DIR OUTPUT_DIR --label-map PERSON=PER,ORGANIZATION=ORG,DATE=O
"""
import time
from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

from spacy_xlmr_ner.io.docbin import SPLITS, OutputError, convert_iob_dir, convert_iob_file, format_stats
from spacy_xlmr_ner.io.iob import IOBFormatError
from spacy_xlmr_ner.io.label_map import load_label_map
from spacy_xlmr_ner.io.langs import parse_langs, split_list

app = typer.Typer(add_completion=False)


@app.command()
def main(
    input_path: Path = typer.Argument(
        ..., exists=True, help="Directory with {lang}/{split}.iob files, or one .iob file"
    ),
    output_path: Path = typer.Argument(..., help="Directory for {lang}/{split}.spacy files, or one .spacy file"),
    langs: Optional[str] = typer.Option(None, help="Comma-separated languages (default: every subdirectory)"),
    splits: Optional[str] = typer.Option(
        None,
        help=f"Comma-separated splits, each required for every language (default: those of {','.join(SPLITS)} present)",
    ),
    strict: bool = typer.Option(False, "--strict", help="Fail on broken entity starts instead of repairing them"),
    limit: int = typer.Option(0, min=0, help="Convert only the first N sentences of each file (0: all)"),
    label_map: Optional[str] = typer.Option(
        None, help="Rename labels: a JSON file {\"PERSON\": \"PER\"} or SRC=DST,...; DST 'O' drops the type"
    ),
):
    """Convert IOB files (IOB1/IOB2/BIOES, CoNLL columns) to .spacy files.

    Every input is checked before anything is written, and outputs are
    replaced atomically: a run that fails leaves existing outputs unchanged.
    """
    start = time.perf_counter()
    try:
        mapping = load_label_map(label_map)
        if input_path.is_file():
            stats = {(input_path.parent.name, input_path.stem): convert_iob_file(
                input_path, output_path, strict=strict, limit=limit, label_map=mapping
            )}
        else:
            lang_list = parse_langs(langs) or None
            stats = convert_iob_dir(
                input_path, output_path, langs=lang_list, splits=split_list(splits) if splits else None,
                strict=strict, limit=limit,
                label_map=mapping,
            )
    except (IOBFormatError, OutputError, ValueError, OSError) as err:
        msg.fail(str(err), exits=1)
    print(format_stats(stats))
    if limit:
        msg.warn(f"Limited to first {limit} sentences of each file")
    msg.good(f"Wrote {len(stats)} file(s) to {output_path} in {time.perf_counter() - start:.1f}s")


if __name__ == "__main__":
    app()
