"""Tables of evaluation results: console tables and Markdown."""
from typing import Dict, List, Mapping, Optional, Sequence

from wasabi import table

from .metrics import NONE


def pct(value: Optional[float]) -> str:
    """value (Optional[float]): A score in [0, 1], or None. RETURNS (str): It in percent, 1 decimal, or "-"."""
    return "-" if value is None else f"{100 * value:.1f}"


def labels_of(results: Mapping[str, Dict]) -> List[str]:
    """results (Mapping[str, Dict]): Scores per language. RETURNS (List[str]): Every entity label, sorted."""
    return sorted({label for r in results.values() for label in r.get("ents_per_type") or {}})


def language_rows(results: Mapping[str, Dict]) -> tuple:
    """One row per language: docs, P, R, F, type-ignored F, token accuracy, F per type.

    results (Mapping[str, Dict]): As returned by `evaluate_per_language`.
    RETURNS (Tuple[List[str], List[List]]): The header and the rows.
    """
    labels = labels_of(results)
    header = ["lang", "docs", "P", "R", "F", "F untyped", "tok acc", *[f"F {label}" for label in labels]]
    rows = []
    for lang, r in results.items():
        per_type = r.get("ents_per_type") or {}
        row = [lang, r["n_docs"], pct(r["ents_p"]), pct(r["ents_r"]), pct(r["ents_f"])]
        row += [pct(r.get("untyped_f")), pct(r.get("token_acc"))]
        row += [pct(per_type[label]["f"]) if label in per_type else "-" for label in labels]
        rows.append(row)
    return header, rows


def format_results(results: Mapping[str, Dict]) -> str:
    """Format per-language results as a console table.

    results (Mapping[str, Dict]): As returned by `evaluate_per_language`.
    RETURNS (str): The table.
    """
    header, rows = language_rows(results)
    return table(rows, header=header, divider=True, aligns=["l"] + ["r"] * (len(header) - 1))


def markdown_table(header: Sequence, rows: Sequence[Sequence], numeric: bool = True) -> str:
    """header (Sequence): Column names. rows (Sequence[Sequence]): The cells.
    numeric (bool): Right-align every column but the first; False: left-align all.
    RETURNS (str): A GitHub-flavoured Markdown table."""
    aligns = [":--" if i == 0 or not numeric else "--:" for i in range(len(header))]
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "| " + " | ".join(aligns) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown_results(results: Mapping[str, Dict], key: str = "all") -> str:
    """The per-language table, then per-type P/R/F and the type confusion of
    one entry (by default "all", else the only language).

    results (Mapping[str, Dict]): As returned by `evaluate_per_language`.
    key (str): The entry to detail.
    RETURNS (str): Markdown.
    """
    parts = ["Per language (P/R/F: strict span match, as seqeval; F untyped: boundaries only; "
             "tok acc: IOB2 tag accuracy):", "", markdown_table(*language_rows(results))]
    key = key if key in results else next(iter(results))
    r = results[key]
    per_type = r.get("ents_per_type") or {}
    if per_type:
        rows = [[label, pct(s["p"]), pct(s["r"]), pct(s["f"])] for label, s in sorted(per_type.items())]
        parts += ["", f"Per type ({key}):", "", markdown_table(["type", "P", "R", "F"], rows)]
    if r.get("confusion"):
        parts += ["", f"Type confusion ({key}; rows gold, columns predicted, entities with the same boundaries; "
                  f"{NONE}: none):", "", markdown_confusion(r["confusion"])]
    return "\n".join(parts)


def markdown_confusion(confusion: Mapping[str, Mapping[str, int]]) -> str:
    """confusion (Mapping[str, Mapping[str, int]]): As from `metrics.type_confusion`.
    RETURNS (str): A Markdown table, gold labels as rows, "O" last."""
    labels = sorted(({lab for row in confusion.values() for lab in row} | set(confusion)) - {NONE}) + [NONE]
    rows = [[f"**{gold}**", *(confusion.get(gold, {}).get(pred, 0) for pred in labels)] for gold in labels]
    return markdown_table(["gold \\ pred", *labels], rows)


def markdown_matrix(matrix: Mapping[str, Mapping[str, Optional[float]]], metric: str = "F") -> str:
    """A train-language x test-language table with row and column means.

    matrix (Mapping[str, Mapping[str, Optional[float]]]): {train: {test: score}}.
    metric (str): What the scores are, for the corner cell.
    RETURNS (str): Markdown; in-language cells in bold.
    """
    tests = list(dict.fromkeys(t for row in matrix.values() for t in row))
    rows = []
    for train, row in matrix.items():
        cells = [f"**{pct(row.get(t))}**" if t == train else pct(row.get(t)) for t in tests]
        values = [v for v in row.values() if v is not None]
        rows.append([train, *cells, pct(sum(values) / len(values) if values else None)])
    means = []
    for t in tests:
        values = [row[t] for row in matrix.values() if row.get(t) is not None]
        means.append(pct(sum(values) / len(values) if values else None))
    rows.append(["mean", *means, ""])
    return markdown_table([f"{metric}: train \\ test", *tests, "mean"], rows)
