import pytest

from spacy_xlmr_ner import create_pipeline
from spacy_xlmr_ner.pipeline.transformer import XLMRTransformer
from spacy_xlmr_ner.pipeline.xlmr_ner import XLMRNER


def test_transformer_and_ner():
    nlp = create_pipeline("some/encoder", lang="de", labels=["PER", "LOC"], window=64, stride=48)
    assert nlp.lang == "de"
    assert nlp.pipe_names == ["transformer", "xlmr_ner"]
    assert isinstance(nlp.get_pipe("transformer"), XLMRTransformer)
    assert isinstance(nlp.get_pipe("xlmr_ner"), XLMRNER)
    assert nlp.get_pipe("xlmr_ner").labels == ("PER", "LOC")
    assert nlp.config["nlp"]["tokenizer"]["@tokenizers"] == "spacy-xlmr-ner.MultilingualTokenizer.v1"
    model = nlp.config["components"]["transformer"]["model"]
    assert model["name"] == "some/encoder"
    assert model["tokenizer_config"] == {"use_fast": False}
    assert (model["get_spans"]["window"], model["get_spans"]["stride"]) == (64, 48)
    # The listener of the NER component takes the transformer's output.
    tok2vec = nlp.config["components"]["xlmr_ner"]["model"]["tok2vec"]
    assert tok2vec["@architectures"] == "spacy-xlmr-ner.TransformerListener.v1"


def test_ner_config_merges_into_defaults():
    nlp = create_pipeline("enc", ner_config={"model": {"dropout": 0.3}, "spans_key": "ents"}, use_fast=True)
    config = nlp.config["components"]["xlmr_ner"]
    assert config["spans_key"] == "ents"
    assert config["model"]["dropout"] == 0.3
    assert config["model"]["init_scale"] == 0.02
    assert config["model"]["tok2vec"]["pooling"] == {"@layers": "spacy-xlmr-ner.reduce_first.v1"}
    assert nlp.config["components"]["transformer"]["model"]["tokenizer_config"] == {"use_fast": True}


def test_transformer_only():
    nlp = create_pipeline("enc", ner=None)
    assert nlp.pipe_names == ["transformer"]
    with pytest.raises(ValueError, match="need an NER component"):
        create_pipeline("enc", ner=None, labels=["PER"])


def test_ner_component_by_factory_name():
    nlp = create_pipeline("enc", ner="ner", labels=["ORG"])
    assert nlp.pipe_names == ["transformer", "ner"]
    assert nlp.get_pipe("ner").labels == ("ORG",)
    with pytest.raises(ValueError, match="no_such_ner"):
        create_pipeline("enc", ner="no_such_ner")


def test_initialize_and_predict(tiny_encoder):
    nlp = create_pipeline(tiny_encoder, labels=["PER"])
    nlp.initialize()
    doc = nlp("Angela Merkel besuchte Berlin.")
    assert doc._.trf_data is not None
    assert list(nlp.get_pipe("xlmr_ner").tags) == ["O", "B-PER", "I-PER"]
    assert len(doc.spans["xlmr_ner"].attrs["scores"]) == len(doc.ents)
