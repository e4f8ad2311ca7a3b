"""Are entity vectors useful? Measured on the gold entities of test sentences
with the package's one definition (`spacy_xlmr_ner.vectors`, the mean of the
encoder's last hidden states over the entity's word pieces), for the encoders
of trained pipelines and for the untrained encoder, and on each component's
own predicted entities (`span._.entity_vector`):

- nearest-neighbour type accuracy: the share of entities whose nearest other
  entity (cosine similarity) has the same type;
- surface-string retrieval: for every entity whose exact surface string occurs
  at least twice, all other entities ranked by cosine similarity; the mean
  reciprocal rank of the first other mention of the same string.

`bench/entity_vectors.py` is the command line.
"""
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy
from spacy.tokens import Doc, Span

from spacy_xlmr_ner.evaluation.report import markdown_table
from spacy_xlmr_ner.vectors import VECTOR_ATTR, install_extension, set_entity_vectors

UNTRAINED = "untrained"


def cosine_matrix(vectors: numpy.ndarray) -> numpy.ndarray:
    """vectors (numpy.ndarray): (n, width). RETURNS (numpy.ndarray): (n, n)
    cosine similarities, with -inf on the diagonal (an entity is never its
    own neighbour). A zero vector is similar to nothing (0)."""
    v = numpy.asarray(vectors, dtype="float64")
    norms = numpy.linalg.norm(v, axis=1, keepdims=True)
    v = v / numpy.where(norms == 0, 1.0, norms)
    sims = v @ v.T
    numpy.fill_diagonal(sims, -numpy.inf)
    return sims


def nearest_neighbour_type_accuracy(vectors: numpy.ndarray, types: Sequence[str]) -> Optional[float]:
    """vectors (numpy.ndarray): (n, width) entity vectors. types
    (Sequence[str]): The type of each. RETURNS (Optional[float]): The share
    of entities whose nearest other entity (cosine; the first on ties) has
    the same type; None with fewer than two entities."""
    if len(types) < 2:
        return None
    nearest = cosine_matrix(vectors).argmax(axis=1)
    types = numpy.asarray(types, dtype=object)
    return float((types[nearest] == types).mean())


def surface_mrr(vectors: numpy.ndarray, surfaces: Sequence[str]) -> Tuple[Optional[float], int]:
    """Retrieval of other mentions of the same surface string.

    vectors (numpy.ndarray): (n, width) entity vectors.
    surfaces (Sequence[str]): The surface string of each entity.
    RETURNS (Tuple[Optional[float], int]): The mean over queries (entities
        whose string occurs at least twice) of 1 / the rank of the first other
        entity with the same string, all other entities ranked by cosine
        similarity (ties in favour of the earlier entity); and the number of
        queries. None when there is no query.
    """
    surfaces = numpy.asarray(surfaces, dtype=object)
    counts: Dict[str, int] = {}
    for s in surfaces:
        counts[s] = counts.get(s, 0) + 1
    queries = [i for i, s in enumerate(surfaces) if counts[s] >= 2]
    if not queries:
        return None, 0
    sims = cosine_matrix(vectors)
    total = 0.0
    for i in queries:
        order = numpy.argsort(-sims[i], kind="stable")[: len(surfaces) - 1]  # the query itself (-inf) is last
        rank = int(numpy.nonzero(surfaces[order] == surfaces[i])[0][0]) + 1
        total += 1.0 / rank
    return total / len(queries), len(queries)


def scores(vectors: Sequence[numpy.ndarray], types: Sequence[str], surfaces: Sequence[str]) -> Dict[str, Any]:
    """RETURNS (Dict[str, Any]): `n`, `nn_type_accuracy`, `surface_mrr`,
    `surface_queries` of a set of entities."""
    matrix = numpy.stack(vectors) if len(vectors) else numpy.zeros((0, 1))
    mrr, n_queries = surface_mrr(matrix, surfaces)
    return {
        "n": len(types),
        "nn_type_accuracy": nearest_neighbour_type_accuracy(matrix, types),
        "surface_mrr": mrr,
        "surface_queries": n_queries,
    }


def load_pipeline(name: str, path: Union[str, Path]):
    """A trained pipeline (a directory), or, for `name` "untrained", a
    transformer-only pipeline on the encoder at `path`, initialized."""
    if name == UNTRAINED:
        from spacy_xlmr_ner import create_pipeline

        nlp = create_pipeline(str(path), ner=None)
        nlp.initialize()
        return nlp
    import spacy

    return spacy.load(path)


def collect(nlp, gold: Sequence[Doc]) -> Dict[str, Dict[str, list]]:
    """Run a pipeline on the gold tokens of each doc and collect the vectors.

    nlp (Language): A pipeline with a `transformer`, and perhaps an NER
        component that sets `span._.entity_vector`.
    gold (Sequence[Doc]): Gold docs.
    RETURNS (Dict[str, Dict[str, list]]): Under "gold", each gold entity's
        vector (by `set_entity_vectors` on the pipeline's encoder output),
        type and surface string; under "predicted", each predicted entity's
        own `span._.entity_vector`, predicted label, gold label of the same
        span (None where no gold entity has the same offsets) and string.
    """
    install_extension()
    out = {
        "gold": {"vectors": [], "types": [], "surfaces": []},
        "predicted": {"vectors": [], "types": [], "gold_types": [], "surfaces": []},
    }
    inputs = [Doc(nlp.vocab, words=[t.text for t in d], spaces=[bool(t.whitespace_) for t in d]) for d in gold]
    for doc, ref in zip(nlp.pipe(inputs), gold):
        gold_labels = {(e.start, e.end): e.label_ for e in ref.ents}
        pred = out["predicted"]
        for ent in doc.ents:
            vector = ent._.get(VECTOR_ATTR)
            if vector is not None:
                pred["vectors"].append(vector)
                pred["types"].append(ent.label_)
                pred["gold_types"].append(gold_labels.get((ent.start, ent.end)))
                pred["surfaces"].append(ent.text)
        spans = [Span(doc, e.start, e.end, label=e.label_) for e in ref.ents]
        set_entity_vectors(doc, spans)
        for span in spans:
            vector = span._.get(VECTOR_ATTR)
            if vector is not None:
                out["gold"]["vectors"].append(vector)
                out["gold"]["types"].append(span.label_)
                out["gold"]["surfaces"].append(span.text)
    return out


def measure(pipelines: Dict[str, Union[str, Path]], gold: Sequence[Doc]) -> Dict[str, Any]:
    """pipelines (Dict[str, Union[str, Path]]): Name to pipeline directory;
    "untrained" to an encoder. gold (Sequence[Doc]): Gold docs.
    RETURNS (Dict[str, Any]): Per pipeline, `gold` and (with an NER
    component) `predicted` scores, and the share of predicted entities whose
    span and label match a gold entity."""
    result = {}
    for name, path in pipelines.items():
        data = collect(load_pipeline(name, path), gold)
        row = {"gold": scores(data["gold"]["vectors"], data["gold"]["types"], data["gold"]["surfaces"])}
        pred = data["predicted"]
        if pred["vectors"]:
            row["predicted"] = scores(pred["vectors"], pred["types"], pred["surfaces"])
            row["predicted"]["share_matching_gold"] = sum(
                g == p for g, p in zip(pred["gold_types"], pred["types"])
            ) / len(pred["types"])
        result[name] = row
    return result


def markdown_report(record: Dict[str, Any]) -> str:
    """record (Dict[str, Any]): `settings`, `results` (as from `measure`),
    `command`. RETURNS (str): The tables."""
    s, results = record["settings"], record["results"]

    def pct(value):
        return "" if value is None else f"{100 * value:.1f}"

    def mrr(value):
        return "" if value is None else f"{value:.3f}"

    header = ["encoder of", "entities", "NN type accuracy %", "surface MRR", "surface queries"]
    gold_rows = [
        [name, g["n"], pct(g["nn_type_accuracy"]), mrr(g["surface_mrr"]), g["surface_queries"]]
        for name, g in ((name, r["gold"]) for name, r in results.items())
    ]
    pred_rows = [
        [name, r["predicted"]["n"], pct(r["predicted"]["nn_type_accuracy"]), mrr(r["predicted"]["surface_mrr"]),
         r["predicted"]["surface_queries"], pct(r["predicted"]["share_matching_gold"])]
        for name, r in results.items() if "predicted" in r
    ]
    lines = [
        f"Entity vectors (`span._.entity_vector`: the mean of the encoder's last hidden states over the entity's "
        f"word pieces) on the first {s['limit']} {s['lang']} test sentences of `{s['iob_dir']}`. NN type accuracy: "
        f"the share of entities whose nearest other entity by cosine similarity has the same type. Surface MRR: "
        f"for each entity whose exact string occurs at least twice, the reciprocal rank of the first other mention "
        f"of that string among all other entities by cosine similarity, averaged. `{UNTRAINED}` = the encoder "
        f"`{s['encoder']}` before training (a transformer-only pipeline).",
        "",
        "Gold entities (gold spans and types; the vector from each pipeline's encoder output):",
        "",
        markdown_table(header, gold_rows, numeric=False),
    ]
    if pred_rows:
        lines += [
            "",
            "Each component's own predicted entities, their `span._.entity_vector`; types are the predicted "
            "labels; the last column is the share of predicted entities whose span and label match a gold entity:",
            "",
            markdown_table(header + ["matching gold %"], pred_rows, numeric=False),
        ]
    if record.get("command"):
        lines += ["", "Command:", "", "```bash", record["command"], "```"]
    return "\n".join(lines)
