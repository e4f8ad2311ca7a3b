import pytest
import torch
from spacy.training import Example
from spacy.util import registry

from helpers import make_nlp


def test_freeze_word_embeddings(tiny_encoder):
    nlp = make_nlp(tiny_encoder)
    examples = [
        Example.from_dict(nlp.make_doc("Angela Merkel besuchte Berlin ."), {"entities": [(0, 13, "PER"), (23, 29, "LOC")]})
    ]
    optimizer = nlp.initialize(lambda: examples)
    freeze = registry.callbacks.get("spacy-xlmr-ner.freeze_word_embeddings.v1")()
    assert freeze(nlp) is nlp
    hf_model = nlp.get_pipe("transformer").model.transformer
    embeddings = hf_model.get_input_embeddings().weight.detach().clone()
    layer = hf_model.encoder.layer[0].attention.self.query.weight.detach().clone()
    for _ in range(3):
        nlp.update(examples, sgd=optimizer)
    assert torch.equal(hf_model.get_input_embeddings().weight, embeddings)
    assert not torch.equal(hf_model.encoder.layer[0].attention.self.query.weight, layer)


def test_freeze_layers_keeps_the_embeddings_and_lower_layers(tiny_encoder):
    nlp = make_nlp(tiny_encoder)
    examples = [
        Example.from_dict(nlp.make_doc("Angela Merkel besuchte Berlin ."), {"entities": [(0, 13, "PER"), (23, 29, "LOC")]})
    ]
    optimizer = nlp.initialize(lambda: examples)
    hf_model = nlp.get_pipe("transformer").model.transformer
    n = len(hf_model.encoder.layer)
    assert n >= 2
    freeze = registry.callbacks.get("spacy-xlmr-ner.freeze_layers.v1")(n_layers=1)
    assert freeze(nlp) is nlp
    before = {name: p.detach().clone() for name, p in hf_model.named_parameters()}
    for _ in range(3):
        nlp.update(examples, sgd=optimizer)
    after = dict(hf_model.named_parameters())
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    frozen = {name for name in before if name.startswith(("embeddings.", "encoder.layer.0."))}
    assert frozen and not changed & frozen
    assert any(name.startswith("encoder.layer.1.") for name in changed)


def test_freeze_layers_rejects_more_layers_than_the_encoder_has(tiny_encoder):
    nlp = make_nlp(tiny_encoder)
    nlp.initialize(lambda: [Example.from_dict(nlp.make_doc("Ana"), {"entities": [(0, 3, "PER")]})])
    n = len(nlp.get_pipe("transformer").model.transformer.encoder.layer)
    with pytest.raises(ValueError, match=f"cannot freeze {n + 1} layers of an encoder with {n}"):
        registry.callbacks.get("spacy-xlmr-ner.freeze_layers.v1")(n_layers=n + 1)(nlp)
    with pytest.raises(ValueError, match="n_layers must be 0 or more"):
        registry.callbacks.get("spacy-xlmr-ner.freeze_layers.v1")(n_layers=-1)

