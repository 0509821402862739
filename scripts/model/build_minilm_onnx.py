"""Builds Casebook's embedding model: all-MiniLM-L6-v2 as an ONNX graph for tract.

The graph is written directly from the sentence-transformers weights (safetensors)
with `onnx` and `numpy`, no torch: a 6-layer BERT encoder whose output is the last
hidden state; mean pooling and L2 normalisation happen in Rust (src/core/embed).

Weights are stored as int8 with one scale per output channel ("weight-only"
quantisation): activations stay fp32, because quantising them ruins this model.
Every weight matrix is under tract's 4 MiB constant-folding limit, so tract turns
them back into fp32 constants once, at load time. The word-embedding table is
not (30522 x 384): the graph gathers the int8 rows of the input's tokens first
and dequantises only those, instead of the whole table on every run.

Inputs: input_ids, attention_mask (int64, [batch, sequence]); output:
last_hidden_state (float32, [batch, sequence, 384]). Batch and sequence stay
symbolic. The attention mask is broadcast as (1 - mask[:, None, None, :]) * -1e4
(tract rejects a mask that flattens batch x sequence).

Usage: build_minilm_onnx.py MODEL_DIR OUTPUT.onnx [--precision int8|fp32]
MODEL_DIR holds model.safetensors and config.json.
"""

import argparse
import json
import struct
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
SAFETENSORS_DTYPES = {"F32": np.float32, "I64": np.int64}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Reads a safetensors file: an 8-byte header length, a JSON header, raw tensors."""
    data = path.read_bytes()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    body = data[8 + header_len :]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = SAFETENSORS_DTYPES[info["dtype"]]
        start, end = info["data_offsets"]
        tensors[name] = np.frombuffer(body[start:end], dtype=dtype).reshape(info["shape"])
    return tensors


def quantize_columns(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 with one scale per column (the output channel of x @ matrix)."""
    scale = np.abs(matrix).max(axis=0, keepdims=True) / 127.0
    scale = np.where(scale == 0.0, 1.0, scale).astype(np.float32)
    quantized = np.clip(np.rint(matrix / scale), -127, 127).astype(np.int8)
    return quantized, scale


class GraphBuilder:
    def __init__(self, precision: str):
        self.precision = precision
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.counter = 0

    def name(self, hint: str) -> str:
        self.counter += 1
        return f"{hint}_{self.counter}"

    def constant(self, hint: str, array: np.ndarray) -> str:
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, **attributes) -> str:
        output = self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [output], **attributes))
        return output

    def weight(self, hint: str, matrix: np.ndarray) -> str:
        """A weight matrix in x @ W layout, dequantised in-graph when int8."""
        if self.precision == "fp32":
            return self.constant(hint, matrix.astype(np.float32))
        quantized, scale = quantize_columns(matrix)
        as_float = self.op("Cast", [self.constant(hint + "_q", quantized)], to=TensorProto.FLOAT)
        return self.op("Mul", [as_float, self.constant(hint + "_scale", scale)], hint)

    def linear(self, x: str, weights: dict, prefix: str) -> str:
        # torch Linear stores [out, in]; the graph computes x @ W.T + b.
        w = self.weight(prefix, weights[prefix + ".weight"].T.copy())
        product = self.op("MatMul", [x, w])
        return self.op("Add", [product, self.constant(prefix + "_bias", weights[prefix + ".bias"])])

    def layer_norm(self, x: str, weights: dict, prefix: str, eps: float) -> str:
        mean = self.op("ReduceMean", [x], axes=[-1], keepdims=1)
        centered = self.op("Sub", [x, mean])
        variance = self.op("ReduceMean", [self.op("Mul", [centered, centered])], axes=[-1], keepdims=1)
        epsilon = self.constant("eps", np.array(eps, dtype=np.float32))
        std = self.op("Sqrt", [self.op("Add", [variance, epsilon])])
        normalised = self.op("Div", [centered, std])
        scaled = self.op("Mul", [normalised, self.constant(prefix + "_gamma", weights[prefix + ".weight"])])
        return self.op("Add", [scaled, self.constant(prefix + "_beta", weights[prefix + ".bias"])])

    def gelu(self, x: str) -> str:
        # The exact (erf) GELU that BERT uses.
        scaled = self.op("Mul", [x, self.constant("inv_sqrt2", np.array(1.0 / np.sqrt(2.0), np.float32))])
        one_plus = self.op("Add", [self.op("Erf", [scaled]), self.constant("one", np.array(1.0, np.float32))])
        half_x = self.op("Mul", [x, self.constant("half", np.array(0.5, np.float32))])
        return self.op("Mul", [half_x, one_plus])


def build(model_dir: Path, precision: str) -> onnx.ModelProto:
    config = json.loads((model_dir / "config.json").read_text())
    weights = read_safetensors(model_dir / "model.safetensors")
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    head_dim = hidden // heads
    eps = config["layer_norm_eps"]
    g = GraphBuilder(precision)

    # Embeddings: word (int8 rows gathered, then dequantised) + position + token type 0.
    table = weights["embeddings.word_embeddings.weight"]
    if precision == "fp32":
        words = g.op("Gather", [g.constant("word_embeddings", table), "input_ids"], axis=0)
    else:
        row_scale = np.abs(table).max(axis=1, keepdims=True) / 127.0
        row_scale = np.where(row_scale == 0.0, 1.0, row_scale).astype(np.float32)
        table_q = np.clip(np.rint(table / row_scale), -127, 127).astype(np.int8)
        rows = g.op("Gather", [g.constant("word_embeddings_q", table_q), "input_ids"], axis=0)
        rows_f = g.op("Cast", [rows], to=TensorProto.FLOAT)
        scales = g.op("Gather", [g.constant("word_embeddings_scale", row_scale), "input_ids"], axis=0)
        words = g.op("Mul", [rows_f, scales], "word_embeddings")

    sequence_length = g.op(
        "Gather",
        [g.op("Shape", ["input_ids"]), g.constant("axis1", np.array(1, dtype=np.int64))],
        axis=0,
    )
    positions = g.op(
        "Range",
        [g.constant("zero", np.array(0, np.int64)), sequence_length, g.constant("step", np.array(1, np.int64))],
    )
    position_table = weights["embeddings.position_embeddings.weight"]
    position_embeddings = g.op("Gather", [g.constant("position_embeddings", position_table), positions], axis=0)
    token_type = weights["embeddings.token_type_embeddings.weight"][0]
    x = g.op("Add", [words, position_embeddings])
    x = g.op("Add", [x, g.constant("token_type_embedding", token_type)])
    x = g.layer_norm(x, weights, "embeddings.LayerNorm", eps)

    # Additive attention mask, [batch, 1, 1, sequence]: 0 for tokens, -1e4 for padding.
    mask_f = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    inverted = g.op("Sub", [g.constant("one_mask", np.array(1.0, np.float32)), mask_f])
    expanded = g.op("Unsqueeze", [inverted, g.constant("mask_axes", np.array([1, 2], np.int64))])
    attention_bias = g.op("Mul", [expanded, g.constant("neg_large", np.array(-1e4, np.float32))])

    split_heads = g.constant("split_heads", np.array([0, 0, heads, head_dim], np.int64))
    merge_heads = g.constant("merge_heads", np.array([0, 0, hidden], np.int64))
    inv_sqrt_dim = g.constant("inv_sqrt_dim", np.array(1.0 / np.sqrt(head_dim), np.float32))

    for layer in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{layer}"
        q = g.op("Transpose", [g.op("Reshape", [g.linear(x, weights, f"{p}.attention.self.query"), split_heads])], perm=[0, 2, 1, 3])
        k = g.op("Transpose", [g.op("Reshape", [g.linear(x, weights, f"{p}.attention.self.key"), split_heads])], perm=[0, 2, 3, 1])
        v = g.op("Transpose", [g.op("Reshape", [g.linear(x, weights, f"{p}.attention.self.value"), split_heads])], perm=[0, 2, 1, 3])
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), inv_sqrt_dim]), attention_bias])
        probabilities = g.op("Softmax", [scores], axis=-1)
        context = g.op("Transpose", [g.op("MatMul", [probabilities, v])], perm=[0, 2, 1, 3])
        context = g.op("Reshape", [context, merge_heads])
        attended = g.linear(context, weights, f"{p}.attention.output.dense")
        x = g.layer_norm(g.op("Add", [x, attended]), weights, f"{p}.attention.output.LayerNorm", eps)
        intermediate = g.gelu(g.linear(x, weights, f"{p}.intermediate.dense"))
        output = g.linear(intermediate, weights, f"{p}.output.dense")
        x = g.layer_norm(g.op("Add", [x, output]), weights, f"{p}.output.LayerNorm", eps)

    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    graph = helper.make_graph(
        g.nodes,
        "all-MiniLM-L6-v2",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"]),
        ],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", hidden])],
        g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="casebook scripts/model/build_minilm_onnx.py",
    )
    # Fixed IR version: the file's bytes (and sha256) must not depend on the onnx release.
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--precision", choices=["int8", "fp32"], default="int8")
    args = parser.parse_args()
    model = build(args.model_dir, args.precision)
    args.output.write_bytes(model.SerializeToString())
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.1f} MB, {args.precision})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
