"""A local OpenAI-compatible llama.cpp server on 127.0.0.1, for tests, benchmarks and trying the
``openai`` backend without a GPU (needs ``pip install 'llama-cpp-python[server]'``).

The server runs as ``python -m populace.llm.serve ARGS``: llama-cpp-python's own server, with the
model's weights loaded in the portable layout the embedded backend uses (see
:func:`populace.llm.backends.embedded.portable_weights`).

    with LlamaServer(threads=1) as server:
        spec = {"backend": "openai", "base_url": server.base_url, "model": server.alias}
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType

from populace.llm.backends.embedded import locate_model, portable_weights
from populace.llm.base import ModelUnavailableError


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LlamaServer:
    """``python -m llama_cpp.server`` in a child process, serving one GGUF model under ``alias``."""

    def __init__(self, model: str | None = None, *, alias: str = "smollm2", threads: int = 1,
                 context_size: int = 2048, port: int | None = None, startup_timeout: float = 60.0) -> None:
        self.path: Path = locate_model(model)
        self.alias = alias
        self.threads = threads
        self.context_size = context_size
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> LlamaServer:
        """Start the server and wait until it lists its model."""
        command = [
            sys.executable, "-m", "populace.llm.serve", "--model", str(self.path), "--model_alias", self.alias,
            "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(self.context_size),
            "--n_threads", str(self.threads), "--n_threads_batch", str(self.threads), "--verbose", "False",
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = (self.process.stderr.read() if self.process.stderr else b"").decode(errors="replace")
                last = error.strip().splitlines()[-1] if error.strip() else f"exit code {self.process.returncode}"
                raise ModelUnavailableError("server_failed", f"llama.cpp server did not start: {last}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise ModelUnavailableError("server_failed",
                                    f"llama.cpp server did not answer within {self.startup_timeout:g} s")

    def stop(self) -> None:
        """Terminate the server (kill it if it lingers)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def main() -> None:
    """llama-cpp-python's server (same arguments) with portable weights; see the module docstring."""
    from llama_cpp.server.__main__ import main as serve

    with portable_weights():
        serve()


if __name__ == "__main__":
    main()
