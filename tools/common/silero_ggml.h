/* Writes Silero VAD v6 weights (the silero-vad package's safetensors) in whisper.cpp's ggml VAD
 * format, byte for byte what whisper.cpp's models/convert-silero-vad-to-ggml.py writes from the
 * package's TorchScript model (without needing PyTorch): the same header, tensor names, order,
 * shapes and types (the STFT basis and the convolutions as float16, the rest float32).
 * whisper_vad_init_from_file_with_params() loads the result. Used by tools/silero-to-ggml and
 * by the test that checks src/audio/silero.c against whisper.cpp's VAD. */
#ifndef STT_TOOLS_SILERO_GGML_H
#define STT_TOOLS_SILERO_GGML_H

#include <stddef.h>

/* Converts the file at `in` into `out` (written to out.tmp, then renamed). version is the
 * package's "MAJOR.MINOR.PATCH" recorded in the header. Returns 0, or a negative STT_E* code
 * with a one-line reason in err. */
int stt_silero_to_ggml(const char *in, const char *out, const char *version, char *err,
                       size_t err_len);

#endif /* STT_TOOLS_SILERO_GGML_H */
