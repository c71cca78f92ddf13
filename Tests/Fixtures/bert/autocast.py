#!/usr/bin/env python3
"""PyTorch bf16 autocast reference for the mixed-precision Model tests.

Reads tiny/config.json, tiny/weights.safetensors and tiny/case.safetensors (written by generate.py) and
writes tiny/autocast.safetensors: the masked-LM loss and last hidden state of the same batch under
torch.autocast("cpu", dtype=torch.bfloat16) (eval mode, no dropout), and the fp32 loss for comparison.

Run: python3 Tests/Fixtures/bert/autocast.py
"""
import os

import torch
from safetensors.torch import load_file, save_file
from transformers import BertConfig, BertForMaskedLM

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    folder = os.path.join(HERE, "tiny")
    config = BertConfig.from_json_file(os.path.join(folder, "config.json"))
    model = BertForMaskedLM(config)
    missing, unexpected = model.load_state_dict(load_file(os.path.join(folder, "weights.safetensors")), strict=False)
    assert not unexpected and all("decoder" in m for m in missing), (missing, unexpected)
    model.eval()
    case = load_file(os.path.join(folder, "case.safetensors"))
    ids = case["input_ids"].long()
    batch, seq = ids.shape
    labels = torch.full((batch * seq,), -100, dtype=torch.long)
    labels[case["masked_positions"].long()] = case["masked_labels"].long()
    inputs = dict(
        input_ids=ids, attention_mask=case["attention_mask"].long(), token_type_ids=case["token_type_ids"].long(),
        labels=labels.view(batch, seq), output_hidden_states=True)
    with torch.no_grad():
        fp32 = model(**inputs)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = model(**inputs)
    out = {
        "loss_fp32": fp32.loss.float().reshape(1),
        "loss_bf16_autocast": bf16.loss.float().reshape(1),
        "last_hidden_state_bf16_autocast": bf16.hidden_states[-1].float().contiguous(),
    }
    save_file(out, os.path.join(folder, "autocast.safetensors"))
    print(f"fp32 loss {fp32.loss.item():.6f}, bf16 autocast loss {bf16.loss.item():.6f} (torch {torch.__version__})")


if __name__ == "__main__":
    main()
