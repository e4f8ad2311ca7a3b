"""Tiny XLM-R-architecture encoders built offline for the tests: random
weights and a sentencepiece model trained on the fly."""
import io
from pathlib import Path
from typing import Iterable

TRAINING_TEXT = [
    "Angela Merkel besuchte gestern Berlin und sprach mit Vertretern der Siemens AG.",
    "Barack Obama visited the United Nations in New York on Monday.",
    "Владимир Путин встретился с представителями Газпрома в Москве.",
    "زار محمد بن سلمان مدينة الرياض مع وفد من شركة أرامكو.",
    "नरेंद्र मोदी ने नई दिल्ली में टाटा समूह के अधिकारियों से मुलाकात की।",
    "习近平在北京会见了华为公司的代表。",
    "東京で安倍晋三がトヨタの社長と会談した。",
    "Recep Tayyip Erdoğan İstanbul'da Türk Hava Yolları yöneticileriyle görüştü.",
    "Rais Samia Suluhu Hassan alitembelea Dodoma pamoja na maafisa wa Vodacom.",
    "문재인 대통령은 서울에서 삼성전자 대표와 만났다.",
    "ประยุทธ์ จันทร์โอชา เดินทางไปเชียงใหม่กับผู้บริหารของปตท.",
    "Emmanuel Macron a rencontré les dirigeants de Renault à Paris.",
    "Pedro Sánchez viajó a Barcelona con directivos de Telefónica.",
    "Lech Wałęsa odwiedził Gdańsk z przedstawicielami Orlenu.",
    "Mark Rutte bezocht Amsterdam met bestuurders van Philips.",
    "0123456789 !?.,;:()[]{}\"'-_/\\@#$%^&*+=<>|~`",
    # The other characters of the training sentences in tests/pipeline, one
    # by one: XLM-R's vocabulary has them, and a character it lacks becomes an
    # <unk> piece, which the sentencepiece alignment leaves out.
    "は 과 부 산 시 민 들 이 공 장 을 방 했",
]


def build_tiny_xlmr(
    out_dir: Path,
    texts: Iterable[str] = TRAINING_TEXT,
    hidden_size: int = 32,
    num_layers: int = 2,
    vocab_size: int = 400,
    seed: int = 0,
) -> Path:
    """Write a tiny randomly initialized XLM-RoBERTa model with a fast
    tokenizer to `out_dir`, loadable with `AutoModel`/`AutoTokenizer`.

    out_dir (Path): The directory to write.
    texts (Iterable[str]): Text to train the sentencepiece model on.
    hidden_size (int): Width of the encoder.
    num_layers (int): Number of transformer layers.
    vocab_size (int): Size of the sentencepiece vocabulary.
    seed (int): Seed for the random weights.
    RETURNS (Path): `out_dir`.
    """
    import sentencepiece as spm
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizerFast

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model_buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(list(texts) * 4),
        model_writer=model_buffer,
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        hard_vocab_limit=False,
        byte_fallback=False,
        minloglevel=2,
    )
    spm_path = out_dir / "sentencepiece.bpe.model"
    spm_path.write_bytes(model_buffer.getvalue())
    tokenizer = XLMRobertaTokenizerFast(vocab_file=str(spm_path), model_max_length=512)
    tokenizer.save_pretrained(str(out_dir))
    torch.manual_seed(seed)
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=2,
        intermediate_size=hidden_size * 2,
        max_position_embeddings=514,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    XLMRobertaModel(config).save_pretrained(str(out_dir))
    return out_dir
