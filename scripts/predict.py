"""Print the entities a pipeline finds in a text file (one text per line).

python scripts/predict.py training/demo/model-best corpus/sample/sentences.txt --output preds.json
python scripts/predict.py xx_xlmr_ner_demo corpus/sample/sentences.txt --expect preds.json
"""
from pathlib import Path
from typing import Optional

import spacy
import srsly
import typer
from wasabi import msg

from spacy_xlmr_ner.io.output import doc_entities
from spacy_xlmr_ner.pipeline.entity_pipe import find_entity_pipe
from spacy_xlmr_ner.pipeline.xlmr_ner import DEFAULT_SPANS_KEY

app = typer.Typer(add_completion=False)


@app.command()
def main(
    model: str = typer.Argument(..., help="Pipeline directory or installed package name"),
    texts: Path = typer.Argument(..., exists=True, help="UTF-8 text file, one text per line"),
    output: Optional[Path] = typer.Option(None, help="Write the entities as JSON"),
    expect: Optional[Path] = typer.Option(
        None, exists=True, help="JSON from an earlier run: fail unless the entities are the same"
    ),
):
    """Run the pipeline on every line and print its entities with scores."""
    nlp = spacy.load(model)
    ner = find_entity_pipe(nlp)
    spans_key = ner.cfg["spans_key"] if ner is not None else DEFAULT_SPANS_KEY
    lines = [line for line in texts.read_text(encoding="utf-8").splitlines() if line.strip()]
    results = []
    for text, doc in zip(lines, nlp.pipe(lines)):
        ents = doc_entities(doc, spans_key)
        results.append({"text": text, "entities": ents})
        print(text)
        for ent in ents:
            print(f"    {ent['label']:<5} {ent['text']}  ({ent['score']:.3f})")
    if output is not None:
        srsly.write_json(output, results)
        msg.good(f"Saved entities to {output}")
    if expect is not None:
        expected = srsly.read_json(expect)
        key = lambda rs: [[(e["start"], e["end"], e["label"]) for e in r["entities"]] for r in rs]
        if [r["text"] for r in expected] != lines or key(expected) != key(results):
            msg.fail(f"Entities differ from {expect}", exits=1)
        msg.good(f"{model} finds the same entities as {expect}")


if __name__ == "__main__":
    app()
