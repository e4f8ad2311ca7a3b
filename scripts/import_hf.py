"""Turn a Hugging Face token-classification checkpoint into a spaCy pipeline,
without training.

python scripts/import_hf.py path/to/xlm-roberta-ner training/imported
"""
from pathlib import Path

import typer
from wasabi import msg

from spacy_xlmr_ner.hf import from_hf

app = typer.Typer(add_completion=False)


@app.command()
def main(
    name_or_path: str = typer.Argument(..., help="Checkpoint directory or Hugging Face Hub name"),
    output_dir: Path = typer.Argument(..., help="Directory to save the spaCy pipeline to"),
    lang: str = typer.Option("xx", help="Language code of the pipeline's tokenizer"),
):
    """Save a transformer + xlmr_ner pipeline built from NAME_OR_PATH."""
    try:
        nlp = from_hf(name_or_path, lang=lang)
    except (OSError, ValueError) as err:
        msg.fail(str(err), exits=1)
    nlp.to_disk(output_dir)
    msg.good(f"Saved to {output_dir}")
    msg.info(f"Labels: {', '.join(nlp.get_pipe('xlmr_ner').labels)}")


if __name__ == "__main__":
    app()
