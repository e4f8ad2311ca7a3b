"""What `spacy_xlmr_ner._compat` relies on in other libraries, checked against
the versions installed: each failure names the library and the internal that
changed, and the function of `_compat` to adapt."""
import dataclasses
import inspect

import numpy
import pytest
import srsly
import torch
from spacy.util import registry
from spacy_transformers.data_classes import HFObjects
from spacy_transformers.pipeline_component import Transformer
from thinc.api import SGD, Linear, Optimizer, chain
from transformers import AutoModel, AutoTokenizer

from spacy_xlmr_ner import _compat

TRANSFORMER_MODEL = {
    "@architectures": "spacy-transformers.TransformerModel.v3",
    "tokenizer_config": {"use_fast": False},
    "transformer_config": {"output_attentions": False},
    "get_spans": {"@span_getters": "spacy-transformers.strided_spans.v1", "window": 128, "stride": 96},
}


def transformer_model(name):
    return registry.resolve({"model": {**TRANSFORMER_MODEL, "name": str(name)}})["model"]


def test_spacy_transformers_hfmodel_and_init_configs():
    model = transformer_model("not/loaded")
    try:
        hf = _compat.hf_objects(model)
    except (AttributeError, IndexError) as err:
        pytest.fail(f"spacy-transformers: TransformerModel.layers[0].shims[0]._hfmodel is gone ({err}); adapt _compat.hf_objects")
    assert isinstance(hf, HFObjects), f"spacy-transformers: _hfmodel is a {type(hf)}, not HFObjects; adapt _compat.hf_objects"
    assert hf.transformer is None and hf.tokenizer is None, "spacy-transformers: _hfmodel is filled before initialize"
    try:
        tok_config, trf_config = _compat.init_configs(model)
    except AttributeError as err:
        pytest.fail(f"spacy-transformers: TransformerModel._init_*_config is gone ({err}); adapt _compat.init_configs")
    assert (tok_config, trf_config) == ({"use_fast": False}, {"output_attentions": False}), (
        "spacy-transformers: TransformerModel._init_tokenizer_config / _init_transformer_config no longer hold "
        "the tokenizer_config / transformer_config; adapt _compat.init_configs"
    )


def test_spacy_transformers_hfobjects_fields():
    names = [field.name for field in dataclasses.fields(HFObjects)]
    expected = ["tokenizer", "transformer", "vocab_file_contents", "_init_tokenizer_config", "_init_transformer_config"]
    assert set(expected) <= set(names), (
        f"spacy-transformers: the fields of HFObjects changed from {expected} to {names}; adapt _compat.set_hf_objects"
    )
    required = [f.name for f in dataclasses.fields(HFObjects) if f.default is f.default_factory is dataclasses.MISSING]
    assert set(required) <= set(expected), f"spacy-transformers: HFObjects needs new fields {required}"


def test_spacy_transformers_set_transformer(tiny_encoder):
    model = transformer_model(tiny_encoder)
    assert "set_transformer" in model.attrs, (
        "spacy-transformers: TransformerModel.attrs['set_transformer'] is gone; adapt _compat.set_hf_objects"
    )
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_encoder), use_fast=False)
    transformer = AutoModel.from_pretrained(str(tiny_encoder))
    _compat.set_hf_objects(model, tokenizer, transformer, b"vocab", {"use_fast": False}, {"return_dict": True})
    hf = _compat.hf_objects(model)
    assert model.tokenizer is tokenizer and model.transformer is transformer, (
        "spacy-transformers: attrs['set_transformer'] does not install the tokenizer and transformer; "
        "adapt _compat.set_hf_objects"
    )
    assert hf.vocab_file_contents == b"vocab", "spacy-transformers: set_transformer drops vocab_file_contents"


def test_spacy_transformers_pipe_is_what_transformer_pipe_copies():
    source = inspect.getsource(Transformer.pipe)
    for line in (
        "install_extensions()",
        "for outer_batch in minibatch(stream, batch_size):",
        "outer_batch = list(outer_batch)",
        'for indices in batch_by_length(outer_batch, self.cfg["max_batch_items"]):',
        "subbatch = [outer_batch[i] for i in indices]",
        "self.set_annotations(subbatch, self.predict(subbatch))",
        "yield from outer_batch",
    ):
        assert line in source, (
            f"spacy-transformers: Transformer.pipe no longer has {line!r}; compare it with _compat.transformer_pipe"
        )


def test_transformer_pipe_predicts_each_batch_and_keeps_order():
    class Recorder:
        def __init__(self):
            self.calls = []

        def predict(self, docs):
            return [f"p{doc}" for doc in docs]

        def set_annotations(self, docs, preds):
            self.calls.append((list(docs), list(preds)))

    pipe = Recorder()
    out = _compat.transformer_pipe(pipe, iter(range(5)), 3, lambda docs: [[1], [0, 2]] if len(docs) == 3 else [[1, 0]])
    assert list(out) == [0, 1, 2, 3, 4]
    assert pipe.calls == [([1], ["p1"]), ([0, 2], ["p0", "p2"]), ([4, 3], ["p4", "p3"])]


def _two_layer_models():
    models = []
    for _ in range(2):
        model = chain(Linear(3, 4), Linear(2, 3))
        model.initialize(X=numpy.ones((2, 4), "f"))
        models.append(model)
    for a, b in zip(models[0].walk(), models[1].walk()):
        for name in a.param_names:
            b.set_param(name, a.get_param(name).copy())
    for model in models:
        Y, backprop = model.begin_update(numpy.arange(8, dtype="f").reshape(2, 4))
        backprop(numpy.ones_like(Y))
    return models


def _params(model):
    return [node.get_param(name).copy() for node in model.walk() for name in node.param_names]


def test_thinc_finish_update_is_what_finish_update_params_copies():
    ours, thincs = _two_layer_models()
    before = _params(ours)
    _compat.finish_update_params(ours, SGD(0.1))
    thincs.finish_update(SGD(0.1))
    changed = [not numpy.allclose(a, b) for a, b in zip(before, _params(ours))]
    assert all(changed), "finish_update_params left a parameter unchanged"
    for a, b in zip(_params(ours), _params(thincs)):
        assert numpy.allclose(a, b), (
            "thinc: Model.finish_update now updates parameters differently; compare it with "
            "_compat.finish_update_params"
        )


def test_thinc_optimizer_lr_scale():
    assert "lr_scale" in inspect.signature(Optimizer.__call__).parameters, (
        "thinc: Optimizer.__call__ no longer takes lr_scale; adapt _compat.finish_update_params"
    )
    plain, scaled = _two_layer_models()
    before = _params(plain)
    _compat.finish_update_params(plain, SGD(0.1))
    _compat.finish_update_params(scaled, SGD(0.1), lr_scale=3.0)
    for start, one, three in zip(before, _params(plain), _params(scaled)):
        assert numpy.allclose(three - start, 3 * (one - start), atol=1e-6), (
            "thinc: Optimizer(..., lr_scale=3) does not take a 3 times larger step"
        )


def test_spacy_deserialize_config(tmp_path):
    path = tmp_path / "cfg"
    srsly.write_json(path, {"labels": ["PER"], "spans_key": "xlmr_ner", "nested": {"a": 1}})
    assert _compat.read_cfg(path) == {"labels": ["PER"], "spans_key": "xlmr_ner", "nested": {"a": 1}}, (
        "spaCy: spacy.pipeline.pipe.deserialize_config reads a component's cfg differently; adapt _compat.read_cfg"
    )


def test_torch_mkldnn_bf16_check():
    assert hasattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported"), (
        "PyTorch: torch.ops.mkldnn._is_mkldnn_bf16_supported is gone; adapt _compat.cpu_has_bf16"
    )
    assert isinstance(_compat.cpu_has_bf16(), bool)


def test_torch_ao_dynamic_quantization():
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4)).eval()
    X = torch.randn(8, 16)
    with torch.no_grad():
        expected = module(X)
    _compat.quantize_dynamic_int8(module, ["0"])
    quantized = torch.ao.nn.quantized.dynamic.Linear
    assert type(module[0]) is quantized, (
        f"PyTorch: torch.ao.quantization.quantize_dynamic made {type(module[0])}, not {quantized}; "
        "adapt _compat.quantize_dynamic_int8"
    )
    assert type(module[2]) is torch.nn.Linear, "PyTorch: quantize_dynamic quantized a layer it was not given"
    assert module[0].weight().qscheme() == torch.per_channel_affine, (
        "PyTorch: per_channel_dynamic_qconfig no longer quantizes per output channel"
    )
    with torch.no_grad():
        got = module(X)
    assert torch.allclose(got, expected, atol=0.05), "PyTorch: dynamic int8 quantization changed the outputs too much"


@pytest.mark.parametrize("model_type", ["xlm-roberta", "bert", "roberta"])
def test_transformers_base_model_table(model_type):
    from transformers import AutoConfig

    config = AutoConfig.for_model(model_type)
    found = _compat.encoder_class(config)
    assert found is not AutoModel, (
        f"transformers: MODEL_MAPPING_NAMES has no class for {model_type!r}; adapt _compat.encoder_class"
    )
    assert found is type(AutoModel.from_config(config)), (
        f"transformers: AutoModel builds another class than MODEL_MAPPING_NAMES names for {model_type!r}"
    )


def test_encoder_class_falls_back_to_automodel():
    class Unknown:
        model_type = "no-such-model"

    assert _compat.encoder_class(Unknown()) is AutoModel


def test_transformers_xlmr_tokenizer_vocab_is_what_load_tokenizer_builds(tiny_encoder, tmp_path):
    from transformers import XLMRobertaTokenizer

    expected = AutoTokenizer.from_pretrained(str(tiny_encoder), use_fast=False)
    assert type(expected) is XLMRobertaTokenizer
    # A token added after saving, as a user's pipeline may have.
    expected.add_tokens(["<ent>"], special_tokens=True)
    expected.save_pretrained(str(tmp_path))
    expected = AutoTokenizer.from_pretrained(str(tmp_path), use_fast=False)
    got = _compat.load_tokenizer(tmp_path, use_fast=False)
    assert type(got) is XLMRobertaTokenizer
    assert _compat._xlmr_vocab(got) == XLMRobertaTokenizer.get_vocab(got) == expected.get_vocab(), (
        "transformers: XLMRobertaTokenizer.get_vocab changed; adapt _compat._xlmr_vocab"
    )
    assert len(got) == len(expected) and got.added_tokens_decoder == expected.added_tokens_decoder
    assert got.all_special_ids == expected.all_special_ids
    text = "Angela Merkel <ent> besuchte Zürich. 東京 <mask>"
    assert got(text)["input_ids"] == expected(text)["input_ids"]
    got.save_pretrained(str(tmp_path / "again"))
    assert srsly.read_json(tmp_path / "again" / "tokenizer_config.json")["tokenizer_class"] == "XLMRobertaTokenizer"


def test_load_tokenizer_leaves_other_tokenizers_to_autotokenizer(tiny_encoder):
    from transformers import XLMRobertaTokenizerFast

    assert type(_compat.load_tokenizer(tiny_encoder)) is XLMRobertaTokenizerFast
