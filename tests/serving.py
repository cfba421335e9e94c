"""Real OpenAI-compatible servers for the endpoint tests: ``transformers serve`` with a tiny
causal LM saved from a config, and a real TCP proxy in front of one that serves one request at a
time after a known delay (a server slowed by a known amount)."""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
from importlib import resources
from pathlib import Path
from typing import Any


def prose_words() -> list[str]:
    """The distinct words of benchsuite's bundled prose (the endpoint prompts' text), in order
    of first use: a word-level tokenizer over them reads every prompt as real words."""
    text = resources.files("benchsuite.instruments").joinpath("prompt_texts.txt").read_text()
    return list(dict.fromkeys(word for word in text.split()))


WORDS = prose_words()


def word_tokenizer(words: list[str], size: int | None = None) -> Any:
    """A word-level fast tokenizer over ``words`` (padded with filler words to ``size``), with
    a chat template that joins the messages: what ``transformers serve`` needs to serve a model
    saved from a config."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocabulary = {"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3}
    for word in words:
        vocabulary.setdefault(word, len(vocabulary))
    while size is not None and len(vocabulary) < size:
        vocabulary[f"w{len(vocabulary)}"] = len(vocabulary)
    tokenizer = Tokenizer(models.WordLevel(vocabulary, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
    )
    fast.chat_template = "{% for m in messages %}{{ m['content'] }} {% endfor %}"
    return fast


def tiny_chat_model(folder: Path) -> Path:
    """A two-layer Llama from a config with a word-level tokenizer of the prose's words and a
    chat template, saved with ``save_pretrained`` (random weights: its answers are words, not
    sense)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = word_tokenizer(WORDS)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=512,
        bos_token_id=2,
        eos_token_id=3,
        pad_token_id=0,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_command(model: Path, port: int) -> str:
    """The ``transformers serve`` command line for ``model`` on 127.0.0.1:``port``, by the
    console script beside this interpreter."""
    script = Path(sys.executable).parent / "transformers"
    return f"{script} serve {model} --host 127.0.0.1 --port {port} --device cpu --log-level info"


class SerialProxy:
    """A TCP proxy on 127.0.0.1 that lets one request through at a time, each after holding the
    line for ``delay_s`` first: the server behind it can answer at most 1 / ``delay_s`` requests
    a second, whatever else it could do."""

    def __init__(self, target_port: int, delay_s: float) -> None:
        self.target_port, self.delay_s = target_port, delay_s
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SerialProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        lock = asyncio.Lock()

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            writer.close()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            async with lock:
                await asyncio.sleep(self.delay_s)
                upstream_reader, upstream_writer = await asyncio.open_connection(
                    "127.0.0.1", self.target_port
                )
                await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

        server = self._loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        for task in asyncio.all_tasks(self._loop):
            task.cancel()
        self._loop.run_until_complete(asyncio.sleep(0))
        self._loop.close()
