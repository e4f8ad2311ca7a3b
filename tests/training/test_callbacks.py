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
