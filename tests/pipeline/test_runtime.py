"""Setting up a pipeline to annotate in a worker process."""
import pytest
import spacy

from spacy_xlmr_ner.pipeline.runtime import apply_precision, scores_key


def test_precision_needs_an_xlmr_transformer():
    nlp = spacy.blank("xx")
    apply_precision(nlp, "fp32", "blank")  # nothing to do
    with pytest.raises(ValueError, match=r"^blank has no xlmr_transformer component: it runs in fp32 only$"):
        apply_precision(nlp, "int8", "blank")
    with pytest.raises(ValueError, match=r"precision must be one of"):
        apply_precision(nlp, "fp8")


def test_int8_reaches_the_encoder(tiny_encoder):
    from spacy_xlmr_ner import create_pipeline

    nlp = create_pipeline(tiny_encoder, labels=["PER", "LOC"])
    nlp.initialize()
    apply_precision(nlp, "int8")
    assert nlp.get_pipe("transformer").quantized


def test_scores_key_is_the_entity_components():
    nlp = spacy.blank("xx")
    assert scores_key(nlp) == "xlmr_ner"
    nlp.add_pipe("xlmr_span_ner", config={"spans_key": "mine"})
    assert scores_key(nlp) == "mine"
