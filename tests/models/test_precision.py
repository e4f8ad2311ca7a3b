"""Reduced-precision encoders: bf16 weights with an fp32 word-embedding table
and fp32 outputs, for both attention implementations; encoders stored in half
precision, whose table stays as loaded."""
import pytest
import torch
from transformers import AutoModel

from spacy_xlmr_ner.models.precision import cast_bf16, restore_table, table_is_stored, widen_half


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_cast_bf16_keeps_the_embedding_table_and_returns_fp32(tiny_encoder, attn):
    fp32 = AutoModel.from_pretrained(str(tiny_encoder), attn_implementation=attn).eval()
    bf16 = cast_bf16(AutoModel.from_pretrained(str(tiny_encoder), attn_implementation=attn))
    table = bf16.get_input_embeddings().weight
    assert table.dtype == torch.float32
    assert all(p is not table for p in bf16.parameters())
    assert {p.dtype for p in bf16.parameters()} == {torch.bfloat16}
    # Sizes the attention masks: bf16, so the eager path adds like to like.
    assert bf16.dtype == torch.bfloat16
    ids = torch.tensor([[0, 10, 11, 12, 2], [0, 13, 2, 1, 1]])
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    with torch.inference_mode():
        want = fp32(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        got = bf16(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        as_tuple = bf16(input_ids=ids, attention_mask=mask, return_dict=False)
    assert got.last_hidden_state.dtype == torch.float32
    assert {h.dtype for h in got.hidden_states} == {torch.float32}
    assert as_tuple[0].dtype == torch.float32
    real = mask.bool()
    diff = (got.last_hidden_state - want.last_hidden_state)[real].abs().max()
    assert 0 < diff < 0.1


def test_cast_bf16_reads_the_table_in_place(tiny_encoder):
    model = AutoModel.from_pretrained(str(tiny_encoder))
    before = model.get_input_embeddings().weight.data_ptr()
    cast_bf16(model)
    assert model.get_input_embeddings().weight.data_ptr() == before


def test_cast_bf16_casts_an_input_embedding_that_is_no_lookup_table():
    class Toy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Linear(4, 4)
            self.out = torch.nn.Linear(4, 4)

        def get_input_embeddings(self):
            return self.embed

        def forward(self, x):
            return self.out(self.embed(x))

    model = cast_bf16(Toy())
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    with torch.inference_mode():
        assert model(torch.ones(2, 4, dtype=torch.bfloat16)).dtype == torch.float32


IDS = torch.tensor([[0, 10, 11, 12, 2], [0, 13, 2, 1, 1]])
MASK = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])


def hidden(model):
    with torch.inference_mode():
        return model(input_ids=IDS, attention_mask=MASK).last_hidden_state[MASK.bool()]


@pytest.fixture(scope="module")
def half_encoders(tiny_encoder, tmp_path_factory):
    root = tmp_path_factory.mktemp("half")
    for dtype in (torch.float16, torch.bfloat16):
        AutoModel.from_pretrained(str(tiny_encoder)).to(dtype).save_pretrained(str(root / str(dtype)))
    return {dtype: root / str(dtype) for dtype in (torch.float16, torch.bfloat16)}


def test_widen_half_keeps_the_table_as_loaded_and_computes_fp32(tiny_encoder, half_encoders):
    fp32 = AutoModel.from_pretrained(str(tiny_encoder)).eval()
    model = AutoModel.from_pretrained(str(half_encoders[torch.float16]), torch_dtype=torch.float16).eval()
    before = model.get_input_embeddings().weight.data_ptr()
    widen_half(model)
    table = model.get_input_embeddings().weight
    assert table.dtype == torch.float16 and table.data_ptr() == before and table_is_stored(model)
    assert all(p is not table for p in model.parameters())
    assert {p.dtype for p in model.parameters()} == {torch.float32} and model.dtype == torch.float32
    got = hidden(model)
    assert got.dtype == torch.float32
    assert 0 < (got - hidden(fp32)).abs().max() < 0.05
    restore_table(model)
    table = model.get_input_embeddings().weight
    assert isinstance(table, torch.nn.Parameter) and table.dtype == torch.float32 and table.requires_grad
    assert not table_is_stored(model)
    # fp16 -> fp32 is exact: casting rows as looked up or the whole table first gives the same.
    assert torch.equal(hidden(model), got)


def test_cast_bf16_uses_weights_stored_as_bf16_in_place(half_encoders):
    model = AutoModel.from_pretrained(str(half_encoders[torch.bfloat16]), torch_dtype=torch.bfloat16)
    before = {name: p.data_ptr() for name, p in model.named_parameters()}
    cast_bf16(model)
    assert {name: p.data_ptr() for name, p in model.named_parameters()} == {
        name: ptr for name, ptr in before.items() if name != "embeddings.word_embeddings.weight"
    }
    assert model.get_input_embeddings().weight.data_ptr() == before["embeddings.word_embeddings.weight"]
    assert hidden(model).dtype == torch.float32


def test_cast_bf16_after_widen_half_casts_rows_once_to_bf16(half_encoders):
    model = widen_half(AutoModel.from_pretrained(str(half_encoders[torch.float16]), torch_dtype=torch.float16))
    cast_bf16(model)
    table = model.get_input_embeddings()
    assert len(table._forward_hooks) == 1
    with torch.inference_mode():
        assert table(IDS).dtype == torch.bfloat16
