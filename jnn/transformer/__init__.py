"""Transformers, curriculum T1-T4: attention, blocks, GPT, BERT.

Public API:
  causal_mask(L), padding_mask(lengths_or_valid, L, query), combine_masks(*m),
  check_mask                             attention masks (True = may attend)
  sinusoidal_encoding(L, d), LearnedPositionalEmbedding(max_length, d),
  rotary_embedding(x, positions, base)   position information (Vaswani et al.
                                         2017; GPT; RoPE, Su et al. 2021)
  dot_product_attention(q, k, v, mask, scale, is_causal, implementation),
  attention_weights(q, k, mask, scale)   the attention core and its probabilities
  softmax_attention(q, k, v, mask, scale, is_causal), causal_blocks(L),
  resolve_implementation(name)           the core as heads-major products (CPU),
                                         causal attention by query blocks
  MultiHeadAttention(num_heads, features, qkv_features, dropout_rate, use_bias,
                     rotary, implementation)
                                         multi-head attention, KV cache, sown
                                         weights for plots; IMPLEMENTATIONS
  KVCache(key, value, length), init_kv_cache(B, max_length, H, D)
                                         cached keys and values for decoding
  chunked_attention(q, k, v, mask, scale, causal, chunk_size)
                                         memory-efficient attention (Rabe &
                                         Staats 2021): no n x n buffer
  temp_memory(fn, *args)                 XLA's compiled scratch memory in bytes
  FeedForward(hidden, dropout_rate, activation), ACTIVATIONS
                                         the position-wise feed-forward net
  EncoderLayer(num_heads, features, ffn_features, dropout_rate, norm_first,
               activation, epsilon)      post-norm / pre-norm encoder layer
  DecoderBlock(num_heads, features, ...) the GPT block (pre-norm, causal)
  GPT(vocab_size, context, layers, heads, features, dropout_rate, positional,
      tie_weights)                       decoder-only causal language model
  gpt_loss(model), next_token_blocks(tokens, context), init_cache(model, B, n),
  check_tokens                           training data, loss and cache of a GPT
  generate(model, params, prompt, key, length, temperature, top_k, top_p,
           greedy), filter_logits        KV-cached decoding in one lax.scan
  BertVocabulary(chars), pack_pair(a, b, L), pack_pairs, nsp_batch,
  PAD_ID, CLS_ID, SEP_ID, MASK_ID, SPECIAL_TOKENS
                                         [PAD]/[CLS]/[SEP]/[MASK] and sentence pairs
                                         packed as [CLS] a [SEP] b [SEP] + segments
  mlm_mask(key, tokens, valid, ...), MaskedTokens, pretraining_batch
                                         BERT's 15% selection, 80/10/10 corruption
  BERT(vocab_size, max_length, layers, heads, features, ...), BertEncoder,
  BertOutput, BertClassifier(..., n_classes), bert_pretraining_loss(model),
  check_bert_inputs                      encoder with MLM (tied) and NSP heads;
                                         fine-tuning head (Devlin et al. 2019)
  ViT(n_classes, patch_size, features, layers, heads, ...), patchify(images, p),
  POOLINGS                               Vision Transformer: images as patch
                                         sequences (Dosovitskiy et al. 2021)
"""

from jnn import _threefry  # noqa: F401 (Threefry unrolled on CPU)
from jnn.transformer.attention import (
    IMPLEMENTATIONS,
    KVCache,
    MultiHeadAttention,
    attention_weights,
    causal_blocks,
    dot_product_attention,
    init_kv_cache,
    resolve_implementation,
    softmax_attention,
)
from jnn.transformer.bert import (
    BERT,
    BertClassifier,
    BertEncoder,
    BertOutput,
    bert_pretraining_loss,
    check_bert_inputs,
)
from jnn.transformer.efficient import chunked_attention, temp_memory
from jnn.transformer.generate import filter_logits, generate
from jnn.transformer.gpt import (
    GPT,
    POSITIONALS,
    check_tokens,
    gpt_loss,
    init_cache,
    next_token_blocks,
)
from jnn.transformer.layers import ACTIVATIONS, DecoderBlock, EncoderLayer, FeedForward
from jnn.transformer.masks import causal_mask, check_mask, combine_masks, padding_mask
from jnn.transformer.packing import (
    CLS_ID,
    MASK_ID,
    PAD_ID,
    SEP_ID,
    SPECIAL_TOKENS,
    BertVocabulary,
    nsp_batch,
    pack_pair,
    pack_pairs,
)
from jnn.transformer.positional import (
    LearnedPositionalEmbedding,
    rotary_embedding,
    sinusoidal_encoding,
)
from jnn.transformer.pretraining import MaskedTokens, mlm_mask, pretraining_batch
from jnn.transformer.vit import POOLINGS, ViT, patchify

__all__ = [
    "ACTIVATIONS",
    "BERT",
    "CLS_ID",
    "MASK_ID",
    "PAD_ID",
    "SEP_ID",
    "SPECIAL_TOKENS",
    "BertClassifier",
    "BertEncoder",
    "BertOutput",
    "BertVocabulary",
    "MaskedTokens",
    "bert_pretraining_loss",
    "check_bert_inputs",
    "mlm_mask",
    "nsp_batch",
    "pack_pair",
    "pack_pairs",
    "pretraining_batch",
    "GPT",
    "IMPLEMENTATIONS",
    "POOLINGS",
    "POSITIONALS",
    "DecoderBlock",
    "EncoderLayer",
    "FeedForward",
    "KVCache",
    "LearnedPositionalEmbedding",
    "MultiHeadAttention",
    "ViT",
    "attention_weights",
    "causal_blocks",
    "causal_mask",
    "check_mask",
    "check_tokens",
    "chunked_attention",
    "combine_masks",
    "dot_product_attention",
    "filter_logits",
    "generate",
    "gpt_loss",
    "init_cache",
    "init_kv_cache",
    "next_token_blocks",
    "padding_mask",
    "patchify",
    "resolve_implementation",
    "rotary_embedding",
    "sinusoidal_encoding",
    "softmax_attention",
    "temp_memory",
]
