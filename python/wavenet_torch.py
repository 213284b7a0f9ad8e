#!/usr/bin/env python3
"""wavenet checkpoints in PyTorch: the torch.nn model a checkpoint describes.

A checkpoint (`wavenet train --out model.safetensors`) is a safetensors file
whose metadata describes its network, layer by layer (README, "Checkpoint
format"). This module builds that network from torch.nn modules, loads the
file's tensors into it with `load_state_dict(strict=True)`, and evaluates or
samples it. It needs torch and the standard library only.

    python3 python/wavenet_torch.py eval MODEL WORDS   # one JSON object: loss, examples
    python3 python/wavenet_torch.py sample MODEL [-n 20] [--temperature 1] [--top-k K] [--seed S] [--prefix TEXT]

Layer kinds, as the core's `describe` writes them (packages/core/src/layers):

- embedding {vocab, dim}: token ids (B, T) -> (B, T, dim), nn.Embedding.
- flatten {n}: (B, T, C) -> (B, T/n, C*n), the time axis dropped when it
  reaches 1 (the lecture's FlattenConsecutive).
- linear {in, out, bias}: nn.Linear, weights (out, in).
- batchnorm {dim, eps, momentum}: nn.BatchNorm1d over the last axis, its
  statistics taken over every other axis (the lecture's BatchNorm1d on
  (B, T, C)); `num_batches_tracked` is in the file.
- tanh: nn.Tanh.
- dropout {p, salt}: nn.Dropout(p), the identity in eval mode (the core draws
  its training masks from a hash of the step's seed, the salt and the index).
- sequential {names, layers}: the layers in order, each child's tensors
  named `<name>.<tensor>`; a name may hold dots (`fuse.0.linear`), so the
  children sit in nested containers along the dotted path, which is what
  gives the state dict the file's names.

`eval` computes what `wavenet eval --json` computes: the mean cross-entropy,
in eval mode, over every (context, next character) example of a file of
words, one per line (blank lines skipped; the context starts as boundary
tokens and slides over the word and its closing boundary).
"""
import argparse
import json
import struct
import sys

import torch
import torch.nn.functional as F
from torch import nn

# Metadata fields that hold JSON rather than plain text.
JSON_FIELDS = ("network", "config", "vocab", "history", "rng", "optimizer")
# What JavaScript's String.prototype.trimEnd removes, so that words end where the CLI's do.
JS_WHITESPACE = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
# Examples per forward pass in `eval`: memory stays bounded on large files.
EVAL_CHUNK = 16384


class CheckpointError(Exception):
    """A file that is not a wavenet checkpoint this module can read."""


def read_checkpoint(path):
    """The file's tensors (name -> float32 tensor) and metadata (JSON fields parsed)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise CheckpointError(f"{path}: not a safetensors file")
    (length,) = struct.unpack("<Q", data[:8])
    try:
        header = json.loads(data[8:8 + length])
    except ValueError as e:
        raise CheckpointError(f"{path}: not a safetensors file ({e})") from None
    body = data[8 + length:]
    metadata = header.pop("__metadata__", {})
    if metadata.get("format") != "wavenet":
        raise CheckpointError(f'{path}: not a wavenet checkpoint (metadata "format" is not "wavenet")')
    tensors = {}
    for name, entry in header.items():
        if entry["dtype"] != "F32":
            raise CheckpointError(f'{path}: tensor "{name}" has dtype {entry["dtype"]}, not F32')
        begin, end = entry["data_offsets"]
        flat = torch.frombuffer(bytearray(body[begin:end]), dtype=torch.float32) if end > begin else torch.zeros(0)
        tensors[name] = flat.reshape(entry["shape"])
    meta = {k: json.loads(v) if k in JSON_FIELDS else v for k, v in metadata.items()}
    return tensors, meta


def describe_config(config):
    """The network a version-1 file's recipe stands for (the core's `describeConfig`)."""
    hidden = config["hidden"]

    def fuse(prefix, group, fan_in):
        return [
            (f"{prefix}.flatten", {"kind": "flatten", "n": group}),
            (f"{prefix}.linear", {"kind": "linear", "in": fan_in, "out": hidden, "bias": False}),
            (f"{prefix}.norm", {"kind": "batchnorm", "dim": hidden, "eps": 1e-5, "momentum": 0.1}),
            (f"{prefix}.tanh", {"kind": "tanh"}),
        ]

    if config["kind"] == "wavenet":
        g = config["groupSize"]
        blocks = [layer for l in range(config["levels"])
                  for layer in fuse(f"fuse.{l}", g, g * (config["embedding"] if l == 0 else hidden))]
    elif config["kind"] == "mlp":
        blocks = fuse("hidden", config["context"], config["context"] * config["embedding"])
    else:
        raise CheckpointError(f'unknown model kind {config["kind"]!r}')
    named = [("embedding", {"kind": "embedding", "vocab": config["vocab"], "dim": config["embedding"]}), *blocks,
             ("head", {"kind": "linear", "in": hidden, "out": config["vocab"], "bias": True})]
    return {"kind": "sequential", "names": [n for n, _ in named], "layers": [layer for _, layer in named]}


def network_of(meta):
    """The network's description: the file's own (version 2), or its recipe's (version 1)."""
    if meta.get("version") == "2":
        return meta["network"]
    if meta.get("version") == "1":
        return describe_config(meta["config"])
    raise CheckpointError(f'checkpoint format version {meta.get("version")!r} is not supported (versions 1 and 2 are)')


class FlattenConsecutive(nn.Module):
    """(B, T, C) -> (B, T/n, C*n): each run of n neighbouring steps concatenated; (B, C*n) when T = n."""

    def __init__(self, n):
        super().__init__()
        self.n = n

    def forward(self, x):
        b, t, c = x.shape
        x = x.reshape(b, t // self.n, c * self.n)
        return x.squeeze(1) if x.shape[1] == 1 else x


class BatchNorm(nn.BatchNorm1d):
    """torch.nn.BatchNorm1d over the last axis of (..., C): statistics over every other axis, as the core's batchnorm."""

    def forward(self, x):
        return super().forward(x.reshape(-1, x.shape[-1])).reshape(x.shape)


class Sequential(nn.Module):
    """Layers run in order; each registered along its dotted name, so that its tensors are `<name>.<tensor>`."""

    def __init__(self, names, layers):
        super().__init__()
        self.order = list(layers)
        for name, layer in zip(names, layers):
            *path, leaf = name.split(".")
            parent = self
            for part in path:
                if part not in parent._modules:
                    parent.add_module(part, nn.Module())
                parent = parent._modules[part]
            parent.add_module(leaf, layer)

    def forward(self, x):
        for layer in self.order:
            x = layer(x)
        return x


class Transparent(nn.Module):
    """A layer that holds another's modules under their own names, adding no name of its own (as the core's residual and skip)."""

    def __init__(self, inner):
        super().__init__()
        self.hold = [inner]
        for name, module in inner.named_children():
            self.add_module(name, module)


class Residual(Transparent):
    """inner(x) plus the last C channels of x, C the width of inner's output: after a fusion, the newest neighbour's own."""

    def forward(self, x):
        out = self.hold[0](x)
        return out + x[..., x.shape[-1] - out.shape[-1]:]


class Skip(Transparent):
    """The body's layers in order, the output the sum of each one's output at the newest step (its last step, or itself once 2-D)."""

    def forward(self, x):
        total = 0
        for layer in self.hold[0].order:
            x = layer(x)
            total = total + (x if x.dim() == 2 else x[:, -1, :])
        return total


def build(description):
    """The torch.nn module a layer description stands for, its tensors not yet loaded."""
    kind = description["kind"]
    if kind == "embedding":
        return nn.Embedding(description["vocab"], description["dim"])
    if kind == "flatten":
        return FlattenConsecutive(description["n"])
    if kind == "linear":
        return nn.Linear(description["in"], description["out"], bias=description["bias"])
    if kind == "batchnorm":
        return BatchNorm(description["dim"], eps=description["eps"], momentum=description["momentum"])
    if kind == "tanh":
        return nn.Tanh()
    if kind == "dropout":
        return nn.Dropout(description["p"])
    if kind == "sequential":
        return Sequential(description["names"], [build(layer) for layer in description["layers"]])
    if kind == "residual":
        return Residual(build(description["inner"]))
    if kind == "skip":
        return Skip(build(description["body"]))
    raise CheckpointError(f"unknown layer kind {kind!r}")


def receptive_field(description):
    """Characters of context the network reads per output: the product of its flattens' groups."""
    kind = description["kind"]
    if kind == "flatten":
        return description["n"]
    if kind == "residual":
        return receptive_field(description["inner"])
    if kind == "skip":
        return receptive_field(description["body"])
    field = 1
    for layer in description.get("layers", []):
        field *= receptive_field(layer)
    return field


class Checkpoint:
    """A checkpoint's model (in eval mode), vocabulary, receptive field and metadata."""

    def __init__(self, path):
        tensors, self.meta = read_checkpoint(path)
        description = network_of(self.meta)
        self.model = build(description)
        # Training state, not the model's.
        state = {name: t for name, t in tensors.items() if not name.startswith("optimizer.")}
        # Files written before checkpoints carried num_batches_tracked: the step stands in, as it does in newer files.
        for name, module in self.model.named_modules():
            if isinstance(module, BatchNorm):
                state.setdefault(f"{name}.num_batches_tracked", torch.tensor(float(self.meta["step"])))
        self.model.load_state_dict(state, strict=True)
        self.model.eval()
        self.vocab = self.meta["vocab"]
        self.field = receptive_field(description)
        self.index = {symbol: i for i, symbol in enumerate(self.vocab) if i > 0}

    def encode(self, word, where):
        ids = []
        for position, ch in enumerate(word):
            if ch not in self.index:
                raise ValueError(f"{where}: character {json.dumps(ch)} (position {position + 1}) is not in the model's vocabulary")
            ids.append(self.index[ch])
        return ids

    def examples(self, words):
        """Contexts (N, field) and next characters (N) of every word, as the core's `examples`."""
        contexts, targets = [], []
        for where, word in words:
            context = [0] * self.field
            for next_id in self.encode(word, where) + [0]:
                contexts.append(context)
                targets.append(next_id)
                context = context[1:] + [next_id]
        return torch.tensor(contexts, dtype=torch.long).reshape(-1, self.field), torch.tensor(targets, dtype=torch.long)

    @torch.no_grad()
    def loss(self, words):
        """Mean cross-entropy over every example, and how many there are."""
        contexts, targets = self.examples(words)
        total = 0.0
        for begin in range(0, len(targets), EVAL_CHUNK):
            logits = self.model(contexts[begin:begin + EVAL_CHUNK])
            total += F.cross_entropy(logits, targets[begin:begin + EVAL_CHUNK], reduction="none").double().sum().item()
        return total / len(targets), len(targets)

    @torch.no_grad()
    def sample(self, count, temperature=1.0, top_k=None, prefix="", max_length=64, generator=None):
        """Words drawn side by side, character by character: softmax(logits / temperature) over the top k, until the boundary."""
        start = self.encode(prefix, "--prefix")
        words = [list(start) for _ in range(count)]
        growing = [i for i in range(count) if len(start) < max_length]
        while growing:
            contexts = torch.tensor([([0] * self.field + words[i])[-self.field:] for i in growing], dtype=torch.long)
            logits = self.model(contexts) / temperature
            if top_k is not None and top_k < logits.shape[1]:
                kept = torch.topk(logits, top_k, dim=1).indices
                logits = logits + torch.full_like(logits, float("-inf")).scatter(1, kept, 0.0)
            drawn = torch.multinomial(F.softmax(logits, dim=1), 1, generator=generator).squeeze(1).tolist()
            for i, next_id in zip(growing, drawn):
                if next_id != 0:
                    words[i].append(next_id)
            growing = [i for i, next_id in zip(growing, drawn) if next_id != 0 and len(words[i]) < max_length]
        return ["".join(self.vocab[i] for i in ids) for ids in words]


def read_words(path):
    """(where, word) for each non-blank line of a UTF-8 file, white space at its end trimmed, as the CLI reads words."""
    with open(path, "rb") as f:
        text = f.read().decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = [line.rstrip(JS_WHITESPACE) for line in text.split("\n")]
    words = [(f"{path}:{i + 1}", line) for i, line in enumerate(lines) if line != ""]
    if not words:
        raise ValueError(f"{path} has no words (it is empty or only blank lines)")
    return words


def main(argv=None):
    parser = argparse.ArgumentParser(prog="wavenet_torch.py", description="Evaluate or sample a wavenet checkpoint with torch.nn.")
    commands = parser.add_subparsers(dest="command", required=True)
    evaluate = commands.add_parser("eval", help="mean cross-entropy over every (context, next character) example of a file; one JSON object")
    evaluate.add_argument("model")
    evaluate.add_argument("words")
    sample = commands.add_parser("sample", help="print words sampled from the model, one per line")
    sample.add_argument("model")
    sample.add_argument("-n", type=int, default=20, help="number of words (default 20)")
    sample.add_argument("--temperature", type=float, default=1.0, help="below 1 sharpens, above 1 flattens (default 1)")
    sample.add_argument("--top-k", type=int, default=None, help="draw only among the K most likely characters")
    sample.add_argument("--seed", type=int, default=None, help="seed of torch's generator")
    sample.add_argument("--prefix", default="", help="every word starts with this text")
    sample.add_argument("--max-length", type=int, default=64, help="longest word, prefix included (default 64)")
    sample.add_argument("--json", action="store_true", help='print {"words": [...]} instead')
    args = parser.parse_args(argv)
    try:
        checkpoint = Checkpoint(args.model)
        if args.command == "eval":
            loss, count = checkpoint.loss(read_words(args.words))
            print(json.dumps({"loss": loss, "examples": count}))
            return 0
        if args.temperature <= 0 or args.n < 0 or (args.top_k is not None and args.top_k < 1) or args.max_length < len(args.prefix):
            parser.error("need a positive --temperature and --top-k, a non-negative -n, and a --max-length no shorter than --prefix")
        generator = torch.Generator()
        if args.seed is not None:
            generator.manual_seed(args.seed)
        else:
            generator.seed()
        words = checkpoint.sample(args.n, args.temperature, args.top_k, args.prefix, args.max_length, generator)
        print(json.dumps({"words": words}) if args.json else "\n".join(words))
        return 0
    except (OSError, ValueError, KeyError, RuntimeError, CheckpointError) as e:
        print(f"wavenet_torch.py: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
