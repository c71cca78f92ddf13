#!/usr/bin/env python3
"""Generates the tiny HF model folders the Checkpoint tests read (needs torch + transformers).

Run from anywhere: python3 Tests/Fixtures/checkpoint/generate.py
Outputs, beside this script (all tiny: hidden 32, vocab 100):
  tiny-mlm/       BertForMaskedLM.save_pretrained, F32, with vocab.txt, tokenizer files,
                  and golden.safetensors (every state-dict tensor in F32, plus input_ids, attention_mask,
                  masked_positions (flat b*S+s) and masked-position logits from the eval-mode forward for Model tests).
  tiny-mlm-f16/   the same weights saved in float16, with expected_f32.safetensors (torch's F16→F32).
  tiny-mlm-bf16/  likewise in bfloat16.
  tiny-st/        BertModel (sentence-transformers naming: no `bert.` prefix, pooler, no MLM head).
"""
import json
import os
import shutil

import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertForMaskedLM, BertModel

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(1234)

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["the", "a", "license", "software", "copy", "right", "permission", "is", "hereby", "granted",
         "free", "of", "charge", "to", "any", "person", "obtaining", "this", "and", "associated",
         "documentation", "files", "deal", "in", "without", "restriction", "including", "limitation",
         "use", "modify", "merge", "publish", "distribute", "sub", "##license", "sell", "copies", "##s",
         "##ing", "##ed", "warranty", "mit", "apache", "gpl", "version", "terms", "conditions", "notice",
         "shall", "be", "included", "all", "or", "substantial", "portions", "provided", "as", "express",
         "implied", "but", "not", "limited", "merchant", "##ability", "fitness", "for", "particular",
         "purpose", "no", "event", "authors", "holders", "liable", "claim", "damages", "other",
         "liability", "whether", "action", "contract", "tort", "otherwise", "arising", "from", "out",
         "connection", "with", ".", ",", "(", ")", ":", ";", "-", "\""]
VOCAB = SPECIAL + WORDS
assert len(VOCAB) == 100, len(VOCAB)

config = BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                    intermediate_size=48, max_position_embeddings=40, type_vocab_size=2, pad_token_id=0)


def write_tokenizer_files(folder):
    with open(os.path.join(folder, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(VOCAB) + "\n")
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "tokenizer_class": "BertTokenizer"}, f, indent=2)


def fresh(folder):
    path = os.path.join(HERE, folder)
    shutil.rmtree(path, ignore_errors=True)
    return path


def randomize(model):
    # Non-trivial values everywhere (LayerNorm and biases included) so that every tensor is checked.
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn_like(p) * 0.05 + (1.0 if "LayerNorm.weight" in name else 0.0))


mlm = BertForMaskedLM(config).eval()
randomize(mlm)
path = fresh("tiny-mlm")
mlm.save_pretrained(path)
write_tokenizer_files(path)

input_ids = torch.tensor([[2, 10, 11, 4, 13, 14, 3, 0], [2, 20, 4, 22, 23, 4, 25, 3]])
attention = (input_ids != 0).long()
with torch.no_grad():
    logits = mlm(input_ids=input_ids, attention_mask=attention).logits
masked = (input_ids == 4).nonzero()
golden = {k: v.detach().clone().contiguous() for k, v in mlm.state_dict().items()}
golden["input_ids"] = input_ids.to(torch.int64)
golden["attention_mask"] = attention.to(torch.int64)
golden["masked_positions"] = (masked[:, 0] * input_ids.shape[1] + masked[:, 1]).to(torch.int64)
golden["masked_logits"] = logits[masked[:, 0], masked[:, 1]].contiguous()
save_file(golden, os.path.join(path, "golden.safetensors"))

for dtype, folder in [(torch.float16, "tiny-mlm-f16"), (torch.bfloat16, "tiny-mlm-bf16")]:
    path = fresh(folder)
    low = BertForMaskedLM(config)
    low.load_state_dict(mlm.state_dict())
    low = low.to(dtype)
    low.save_pretrained(path)
    write_tokenizer_files(path)
    expected = {k: v.detach().float().contiguous() for k, v in low.state_dict().items() if v.is_floating_point()}
    save_file(expected, os.path.join(path, "expected_f32.safetensors"))

base = BertModel(config, add_pooling_layer=True).eval()
randomize(base)
path = fresh("tiny-st")
base.save_pretrained(path)
write_tokenizer_files(path)

for folder in ["tiny-mlm", "tiny-mlm-f16", "tiny-mlm-bf16", "tiny-st"]:
    from safetensors import safe_open
    with safe_open(os.path.join(HERE, folder, "model.safetensors"), "pt") as f:
        keys = list(f.keys())
    print(folder, len(keys), "tensors;", ", ".join(k for k in keys if not k.split(".")[0] in ("encoder", "bert") or "layer" not in k))
