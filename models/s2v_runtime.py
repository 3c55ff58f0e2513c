"""The loaded Wan2.2-S2V release and its device policy: the clip loop, UMT5 prompts, wav2vec2 audio.

:class:`S2VRuntime` loads a checked release directory (:class:`models.wan_checkpoint.S2VLayout`)
lean, each part straight into its dtype: the DiT (:mod:`models.s2v_loader`) and the Wan2.1 VAE
into an :class:`models.s2v_pipeline.S2VPipeline`; the UMT5 encoder and wav2vec2 only when first
used (a song's audio features are usually cached, and prompts are cached per text).

Memory policy (``PipelineOptions.offload``):

- ``none``: every part stays on the device (the DiT alone is ≈ 33 GB in bf16, UMT5-XXL ≈ 11 GB);
- ``model``: the DiT and the VAE stay on the device; UMT5 and wav2vec2 live in host memory and are
  moved to the device only while they run;
- ``group``: as ``model``, and the DiT's weights are streamed from host memory leaf by leaf while
  it runs (diffusers' group offloading), for GPUs smaller than the DiT.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from models.audio_features import SongAudioFeatures, Wav2Vec2Encoder, song_audio_features
from models.s2v_pipeline import DiffusersWanVae, Progress, S2VOutput, S2VPipeline, S2VRequest
from models.wan_checkpoint import S2VLayout
from models.wan_runtime import PipelineOptions
from mvdirector.errors import ModelError

log = logging.getLogger(__name__)
PROMPT_MEMO = 64  # prompt embeddings kept per runtime


class S2VRuntime:
    """The S2V release on a device: ``encode_prompts``, ``audio_features`` and the clip loop (``__call__``)."""

    def __init__(self, layout: S2VLayout, options: PipelineOptions | None = None) -> None:
        from models.s2v_loader import load_s2v_transformer
        from models.wan_vae_weights import load_wan_vae

        self.layout = layout
        self.options = opts = options or PipelineOptions()
        self.device = opts.resolved_device()
        self.dtype = opts.resolved_dtype()
        resident = self.device if opts.offload in ("none", "model") else torch.device("cpu")
        transformer = load_s2v_transformer(layout.root, device=resident, dtype=self.dtype)
        if opts.attention:
            try:
                transformer.set_attention_backend(opts.attention)
            except (ValueError, ImportError, RuntimeError) as e:
                raise ModelError(
                    f"attention backend {opts.attention!r} cannot be used: {e}",
                    hint="leave -O attention unset for PyTorch SDPA",
                ) from e
        if opts.offload == "group":
            from diffusers.hooks import apply_group_offloading

            apply_group_offloading(
                transformer, onload_device=self.device, offload_device=torch.device("cpu"), offload_type="leaf_level",
                use_stream=self.device.type == "cuda",
            )
        vae = load_wan_vae(layout.vae).to(self.device)
        if opts.vae_tiling:
            vae.enable_tiling()
        self.pipeline = S2VPipeline(transformer, DiffusersWanVae(vae), self.device)
        self.text_len = transformer.config.text_len
        self._prompt_encoder = None
        self._wav2vec: Wav2Vec2Encoder | None = None
        self._prompts: dict[str, torch.Tensor] = {}

    @contextmanager
    def _on_device(self, module: torch.nn.Module) -> Iterator[None]:
        """Run with ``module`` on the device; with offloading it goes back to host memory afterwards."""
        if self.options.offload == "none":
            yield
            return
        module.to(self.device)
        try:
            yield
        finally:
            module.to("cpu")
            if self.device.type == "cuda":
                torch.cuda.empty_cache()

    def _text_encoder(self):  # noqa: ANN202 - models.umt5_weights.PromptEncoder
        if self._prompt_encoder is None:
            from models.umt5_weights import PromptEncoder, load_umt5_encoder, load_umt5_tokenizer

            model = load_umt5_encoder(self.layout.t5, dtype=self.dtype)
            if self.options.offload == "none":
                model.to(self.device)
            self._prompt_encoder = PromptEncoder(load_umt5_tokenizer(self.layout.tokenizer), model, self.text_len)
        return self._prompt_encoder

    def encode_prompts(self, texts: list[str]) -> list[torch.Tensor]:
        """UMT5 embeddings (len_i, text_dim) of each text, as the official encoder makes them (kept per text)."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._prompts]
        if todo:
            enc = self._text_encoder()
            with self._on_device(enc.model):
                for text, emb in zip(todo, enc(todo), strict=True):
                    self._prompts[text] = emb.to("cpu")
            while len(self._prompts) > PROMPT_MEMO:
                self._prompts.pop(next(iter(self._prompts)))
        return [self._prompts[t] for t in texts]

    def audio_features(self, samples: np.ndarray, sample_rate: int) -> SongAudioFeatures:
        """wav2vec2 over the whole song once, bucketed on the 16-fps clock (``models.audio_features``)."""
        if self._wav2vec is None:
            dev = self.device if self.options.offload == "none" else torch.device("cpu")
            self._wav2vec = Wav2Vec2Encoder.from_pretrained(self.layout.wav2vec, device=dev)
        with self._on_device(self._wav2vec.model):
            return song_audio_features(self._wav2vec, samples, sample_rate)

    def __call__(self, req: S2VRequest, progress: Progress | None = None) -> S2VOutput:
        """Generate one shot with the official clip loop."""
        return self.pipeline(req, progress)
